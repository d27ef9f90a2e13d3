// One behaviour suite for every FileStorage (file-storage.ts states the guarantees). The test
// file runs it against disk, against a local S3-compatible server, and against a real bucket
// when S3_* is set. Payloads are generated and hashed chunk by chunk: nothing here holds a whole
// multi-MiB file, so a storage that buffers is the only thing that could.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvalidStorageKeyError, type FileStorage } from './file-storage.js';

const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;
const base = randomBytes(BLOCK);

/** Byte i of every test payload: a random block, varied per block so no two blocks are equal. */
function pattern(start: number, endExclusive: number): Buffer {
  const out = Buffer.allocUnsafe(endExclusive - start);
  for (let i = start; i < endExclusive; i++) out[i - start] = base[i % BLOCK]! ^ (Math.floor(i / BLOCK) & 0xff);
  return out;
}

/** A body of `size` pattern bytes, produced on demand; fails with `failWith` once `failAt` bytes are out. */
export function patternBody(size: number, fail?: { at: number; error: Error }): Readable {
  let pos = 0;
  return new Readable({
    read() {
      if (fail && pos >= fail.at) {
        this.destroy(fail.error);
        return;
      }
      if (pos >= size) {
        this.push(null);
        return;
      }
      const end = Math.min(size, pos + BLOCK, fail ? Math.max(fail.at, pos + 1) : Infinity);
      const chunk = pattern(pos, end);
      pos = end;
      this.push(chunk);
    },
  });
}

function patternHash(size: number): string {
  const h = createHash('sha256');
  for (let pos = 0; pos < size; pos += BLOCK) h.update(pattern(pos, Math.min(size, pos + BLOCK)));
  return h.digest('hex');
}

async function hashOf(body: Readable): Promise<{ hash: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hash: h.digest('hex'), size };
}

async function bytesOf(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

export function fileStorageContract(
  name: string,
  open: () => Promise<FileStorage>,
  cleanup?: (storage: FileStorage) => Promise<void>,
): void {
  describe(`${name} file storage contract`, () => {
    let storage: FileStorage;
    let used: string[] = [];
    /** A fresh upload id; every key made from it is deleted after the test (real buckets stay clean). */
    const newKey = () => {
      const id = `a${randomBytes(12).toString('hex')}`;
      used.push(id, `${id}.thumb`);
      return id;
    };

    beforeAll(async () => {
      storage = await open();
    });
    afterEach(async () => {
      await Promise.all(used.map((k) => storage.delete(k)));
      used = [];
    });
    afterAll(async () => {
      if (cleanup) await cleanup(storage);
      else await storage.close();
    });

    const SIZE = 8 * MiB + 12345; // more than one S3 part, not a multiple of anything

    it('streams a multi-MiB body in and out unchanged, with the same size, type and etag everywhere', async () => {
      const key = newKey();
      const put = await storage.put(key, patternBody(SIZE), 'application/pdf');
      expect(put).toMatchObject({ size: SIZE, contentType: 'application/pdf' });
      expect(put.etag).toMatch(/^[^"]+$/);

      const head = await storage.head(key);
      expect(head).toEqual(put);

      const got = await storage.get(key);
      expect(got?.info).toEqual(put);
      expect(await hashOf(got!.body)).toEqual({ hash: patternHash(SIZE), size: SIZE });
    });

    it('reads the first byte, a middle slice and the last byte of a stored file, reporting the whole size', async () => {
      const key = newKey();
      await storage.put(key, patternBody(SIZE), 'application/zip');
      for (const [start, end] of [
        [0, 0],
        [5 * MiB - 100, 5 * MiB + 99], // across the S3 part boundary
        [SIZE - 1, SIZE - 1],
      ] as const) {
        const got = await storage.get(key, { start, end });
        expect(got?.info.size, `range ${start}-${end}`).toBe(SIZE);
        expect((await bytesOf(got!.body)).equals(pattern(start, end + 1)), `range ${start}-${end}`).toBe(true);
      }
    });

    it('keeps a file and its thumbnail apart, each with its own type', async () => {
      const key = newKey();
      await storage.put(key, Readable.from([Buffer.from('hello\n')]), 'text/plain');
      await storage.put(`${key}.thumb`, Readable.from([Buffer.from('RIFF....WEBP')]), 'image/webp');
      expect(await storage.head(key)).toMatchObject({ size: 6, contentType: 'text/plain' });
      expect(await storage.head(`${key}.thumb`)).toMatchObject({ size: 12, contentType: 'image/webp' });
      expect((await bytesOf((await storage.get(key))!.body)).toString()).toBe('hello\n');
    });

    it('stores an empty body as an empty file', async () => {
      const key = newKey();
      expect(await storage.put(key, Readable.from([]), 'text/plain')).toMatchObject({ size: 0 });
      expect((await storage.head(key))?.size).toBe(0);
    });

    it('answers null for an absent key (get, range get, head)', async () => {
      const key = newKey();
      expect(await storage.get(key)).toBeNull();
      expect(await storage.get(key, { start: 0, end: 0 })).toBeNull();
      expect(await storage.head(key)).toBeNull();
      expect(await storage.head(`${key}.thumb`)).toBeNull();
    });

    it('deletes idempotently: an absent key, then a stored one twice', async () => {
      const key = newKey();
      await storage.delete(key);
      await storage.put(key, patternBody(1000), 'application/pdf');
      await storage.delete(key);
      expect(await storage.head(key)).toBeNull();
      expect(await storage.get(key)).toBeNull();
      await storage.delete(key);
    });

    for (const [what, at] of [
      ['in its first part', 100_000],
      ['after a whole S3 part went out', 6 * MiB],
    ] as const) {
      it(`leaves nothing at the key when the body fails ${what}`, async () => {
        const key = newKey();
        const error = new Error('client went away');
        await expect(storage.put(key, patternBody(SIZE, { at, error }), 'application/zip')).rejects.toBe(error);
        expect(await storage.head(key)).toBeNull();
        expect(await storage.get(key)).toBeNull();
      });
    }

    it('refuses every key that is not <upload id> or <upload id>.thumb, touching nothing', async () => {
      const id = newKey();
      const bad = ['../x', 'a/b', '', `${id}/../x`, `../${id}`, `${id}.type`, `${id}.thumb.type`, id.toUpperCase(), `${id}x`, ` ${id}`];
      for (const key of bad) {
        const body = patternBody(10);
        await expect(storage.put(key, body, 'text/plain'), JSON.stringify(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
        expect(body.destroyed, `${JSON.stringify(key)}: the refused body is released`).toBe(true);
        await expect(storage.get(key), JSON.stringify(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
        await expect(storage.head(key), JSON.stringify(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
        await expect(storage.delete(key), JSON.stringify(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
      }
      expect(await storage.head(id)).toBeNull();
    });
  });
}
