// storeUpload end to end on the disk storage in a temp directory, with real bytes: limits,
// refusals, images, aborted bodies, and the memory a 25 MiB upload costs.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ATTACHMENT_ID_RE } from '../../shared/attachments.js';
import { loadConfig } from '../../shared/config.js';
import { openDiskStorage } from './disk-storage.js';
import type { FileStorage } from './file-storage.js';
import { newAttachmentId, storeUpload, type UploadRequest } from './upload-pipeline.js';
import { brokenPng, elfHead, hasGpsPointer, jpegWithGps, pdf, png, pngBomb } from './test-fixtures.js';

const MiB = 1024 * 1024;
const ALLOWED = loadConfig('users', {}).ATTACHMENT_TYPES;
const root = mkdtempSync(join(tmpdir(), 'aurora-upload-test-'));
const filesDir = join(root, 'files');
const spoolDir = join(root, 'spool');
let storage: FileStorage;
beforeAll(async () => {
  mkdirSync(spoolDir);
  storage = await openDiskStorage(filesDir);
});
// A failed test must not leave files that fail the next one's leftovers() check.
afterEach(() => {
  for (const d of readdirSync(filesDir)) if (d !== '.tmp') rmSync(join(filesDir, d), { recursive: true, force: true });
  for (const f of readdirSync(spoolDir)) rmSync(join(spoolDir, f), { recursive: true, force: true });
});
afterAll(async () => {
  await storage.close();
  rmSync(root, { recursive: true, force: true });
});

/** Every file the storage holds (shards and temp), and what is left in the spool directory. */
function leftovers(): { stored: string[]; temp: string[]; spool: string[] } {
  const stored = readdirSync(filesDir)
    .filter((d) => d !== '.tmp')
    .flatMap((d) => readdirSync(join(filesDir, d)).filter((f) => !f.endsWith('.type')));
  return { stored, temp: readdirSync(join(filesDir, '.tmp')), spool: readdirSync(spoolDir) };
}

/** A body in chunks of at most 64 KiB, produced as it is read. */
function bodyOf(bytes: Buffer): Readable {
  let pos = 0;
  return new Readable({
    read() {
      if (pos >= bytes.length) return void this.push(null);
      this.push(bytes.subarray(pos, pos + 65536));
      pos += 65536;
    },
  });
}

const upload = (body: Readable, more: Partial<UploadRequest> = {}) =>
  storeUpload({ body, name: 'file.bin', maxBytes: 25 * MiB, allowedTypes: ALLOWED, storage, tmpDir: spoolDir, ...more });

async function readAll(key: string): Promise<Buffer> {
  const got = await storage.get(key);
  const parts: Buffer[] = [];
  for await (const c of got!.body) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('storeUpload', () => {
  it('makes ids that match ATTACHMENT_ID_RE and differ', () => {
    const ids = new Set(Array.from({ length: 100 }, newAttachmentId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(ATTACHMENT_ID_RE);
  });

  it('stores a text file of exactly maxBytes, and refuses one byte more keeping nothing', async () => {
    const text = Buffer.alloc(10_000, 'a');
    const ok = await upload(bodyOf(text), { maxBytes: 10_000, name: '../../etc/notes.txt' });
    expect(ok).toMatchObject({ ok: true, attachment: { name: 'notes.txt', type: 'text/plain', size: 10_000 } });
    if (!ok.ok) throw new Error('unreachable');
    expect(ok.storageKey).toBe(ok.attachment.id);
    expect(ok.thumbKey).toBeUndefined();
    expect((await readAll(ok.storageKey)).equals(text)).toBe(true);
    await storage.delete(ok.storageKey);

    const id = newAttachmentId();
    const over = await upload(bodyOf(Buffer.alloc(10_001, 'a')), { maxBytes: 10_000, id });
    expect(over).toMatchObject({ ok: false, status: 413, code: 'too_large' });
    expect(await storage.head(id)).toBeNull();
    expect(leftovers()).toEqual({ stored: [], temp: [], spool: [] });
  });

  it('refuses a declared Content-Length past the limit without reading a byte', async () => {
    let reads = 0;
    const body = new Readable({
      read() {
        reads++;
        this.push(null);
      },
    });
    expect(await upload(body, { declaredLength: 25 * MiB + 1 })).toMatchObject({ ok: false, status: 413, code: 'too_large' });
    expect(reads).toBe(0);
  });

  it('refuses an empty body (400) and a type off the allow-list (415), storing nothing', async () => {
    expect(await upload(bodyOf(Buffer.alloc(0)))).toMatchObject({ ok: false, status: 400, code: 'empty' });
    expect(await upload(bodyOf(elfHead(200_000)))).toMatchObject({
      ok: false,
      status: 415,
      code: 'unsupported_type',
      message: expect.stringContaining('application/x-elf'),
    });
    expect(await upload(bodyOf(pdf()), { allowedTypes: ['text/plain'] })).toMatchObject({ ok: false, status: 415 });
    expect(leftovers()).toEqual({ stored: [], temp: [], spool: [] });
  });

  it('stores a PDF as sniffed, whatever the name claims', async () => {
    const r = await upload(bodyOf(pdf()), { name: 'picture.png' });
    expect(r).toMatchObject({ ok: true, attachment: { name: 'picture.png', type: 'application/pdf', size: pdf().length } });
    expect(r.ok && r.attachment.thumb).toBeFalsy();
    if (r.ok) await storage.delete(r.storageKey);
  });

  it('stores a PNG re-encoded with its dimensions and a WebP thumbnail under <id>.thumb', async () => {
    const r = await upload(bodyOf(await png(800, 600)), { name: 'shot.png' });
    if (!r.ok) throw new Error(r.message);
    const { id } = r.attachment;
    expect(r).toMatchObject({
      storageKey: id,
      thumbKey: `${id}.thumb`,
      attachment: { name: 'shot.png', type: 'image/png', width: 800, height: 600, thumb: true },
    });
    expect(await storage.head(id)).toMatchObject({ size: r.attachment.size, contentType: 'image/png' });
    expect(await storage.head(`${id}.thumb`)).toMatchObject({ contentType: 'image/webp' });
    expect(await sharp(await readAll(`${id}.thumb`)).metadata()).toMatchObject({ format: 'webp', width: 320, height: 240 });
    await storage.delete(id);
    await storage.delete(`${id}.thumb`);
    expect(leftovers().spool).toEqual([]);
  });

  it('serves what a phone JPEG becomes: turned upright, GPS and all EXIF gone', async () => {
    const input = await jpegWithGps(400, 200);
    expect(hasGpsPointer((await sharp(input).metadata()).exif)).toBe(true);
    const r = await upload(bodyOf(input), { name: 'IMG_0001.JPG' });
    if (!r.ok) throw new Error(r.message);
    expect(r.attachment).toMatchObject({ type: 'image/jpeg', width: 200, height: 400 });
    const stored = await readAll(r.storageKey);
    expect(stored.length).toBe(r.attachment.size);
    expect((await sharp(stored).metadata()).exif).toBeUndefined();
    expect(stored.includes(Buffer.from('Exif\0\0', 'latin1'))).toBe(false);
    await storage.delete(r.storageKey);
    await storage.delete(r.thumbKey!);
  });

  it('refuses a broken image (415 bad_image) and a decompression bomb (413), keeping nothing', async () => {
    expect(await upload(bodyOf(await brokenPng()))).toMatchObject({ ok: false, status: 415, code: 'bad_image' });
    expect(await upload(bodyOf(pngBomb()))).toMatchObject({ ok: false, status: 413, code: 'too_large' });
    expect(leftovers()).toEqual({ stored: [], temp: [], spool: [] });
  });

  it('refuses an image past maxBytes while spooling it, and removes the spool', async () => {
    const big = await png(800, 600);
    expect(await upload(bodyOf(big), { maxBytes: big.length - 1 })).toMatchObject({ ok: false, status: 413 });
    expect(leftovers()).toEqual({ stored: [], temp: [], spool: [] });
  });

  for (const [what, head] of [
    ['a file', Buffer.alloc(1 * MiB, 'x')],
    ['an image', null],
  ] as const) {
    it(`rejects with the body's error when the client aborts ${what} midway, leaving no file`, async () => {
      const first = head ?? (await png(1000, 1000)).subarray(0, 20_000);
      const error = new Error('aborted');
      let sent = false;
      const body = new Readable({
        read() {
          if (!sent) {
            sent = true;
            this.push(first);
          } else this.destroy(error);
        },
      });
      const id = newAttachmentId();
      await expect(upload(body, { id })).rejects.toBe(error);
      expect(await storage.head(id)).toBeNull();
      expect(leftovers()).toEqual({ stored: [], temp: [], spool: [] });
    });
  }

  it('streams a 25 MiB upload through with bounded memory (RSS growth far below the file size)', async () => {
    // A collection every 2 MiB makes the numbers mean "held", not "not yet collected": without it
    // a streaming and a buffering pipeline both show ~25 MiB of uncollected chunks.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const size = 25 * MiB;
    const line = Buffer.from('the quick brown fox jumps over the lazy dog 0123456789\n');
    const chunk = Buffer.alloc(65536);
    for (let i = 0; i < chunk.length; i += line.length) line.copy(chunk, i);
    chunk.fill('\n', chunk.length - (chunk.length % line.length));
    let pos = 0;
    let peakRss = 0;
    let peakBuffers = 0;
    gc();
    const before = process.memoryUsage();
    const sample = () => {
      gc();
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
    };
    const body = new Readable({
      read() {
        if (pos % (2 * MiB) === 0) sample();
        if (pos >= size) return void this.push(null);
        // A fresh buffer per chunk, as a socket hands them over.
        this.push(Buffer.from(chunk.subarray(0, Math.min(chunk.length, size - pos))));
        pos += chunk.length;
      },
    });
    const r = await upload(body, { maxBytes: size });
    if (!r.ok) throw new Error(r.message);
    expect(r.attachment).toMatchObject({ type: 'text/plain', size });
    expect((await storage.head(r.storageKey))?.size).toBe(size);
    const rssMiB = (peakRss - before.rss) / MiB;
    const buffersMiB = (peakBuffers - before.arrayBuffers) / MiB;
    process.stderr.write(
      `[upload-pipeline] 25 MiB upload: peak RSS growth ${rssMiB.toFixed(1)} MiB, peak Buffer memory held ${buffersMiB.toFixed(1)} MiB\n`,
    );
    expect(buffersMiB).toBeLessThan(8);
    expect(rssMiB).toBeLessThan(60);
    await storage.delete(r.storageKey);
  });
});
