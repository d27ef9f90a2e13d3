// FileStorage on the local disk (the embedded default; FILES_DIR, `.data/files`).
//
// Layout: FILES_DIR/<2 hex after the id's 'a'>/<key> holds the bytes, `<key>.type` beside it the
// content type (keys never end in `.type`, see file-storage.ts). 256 shards keep directories
// small. A put streams into FILES_DIR/.tmp, fsyncs, then renames into place: the rename of the
// data file is the commit point, so a reader sees the whole file or nothing, and a failed or
// aborted body never leaves anything at the key. The etag is derived (size-mtime).
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { assertStorageKey, type ByteRange, type FileStorage, type StoredObject } from './file-storage.js';

/** Temp files older than this at start-up were left by a crash; younger ones may be in flight. */
const STALE_TMP_MS = 3600_000;

export async function openDiskStorage(root: string): Promise<FileStorage> {
  const tmpDir = join(root, '.tmp');
  await mkdir(tmpDir, { recursive: true, mode: 0o750 });
  await sweepStaleTemps(tmpDir);

  const dirOf = (key: string) => join(root, key.slice(1, 3));
  const pathOf = (key: string) => join(dirOf(key), key);
  const typePathOf = (key: string) => `${pathOf(key)}.type`;

  async function readType(key: string): Promise<string> {
    try {
      return (await readFile(typePathOf(key), 'utf8')).trim() || 'application/octet-stream';
    } catch {
      return 'application/octet-stream';
    }
  }

  return {
    kind: 'disk',

    async put(key, body, contentType) {
      try {
        assertStorageKey(key);
      } catch (err) {
        body.destroy();
        throw err;
      }
      const dir = dirOf(key);
      await mkdir(dir, { recursive: true, mode: 0o750 });
      const tmp = join(tmpDir, `${key}.${randomBytes(6).toString('hex')}`);
      let renamed = false;
      try {
        await writeDurably(tmp, body);
        await writeFile(typePathOf(key), contentType, { mode: 0o640 });
        await rename(tmp, pathOf(key));
        renamed = true;
        await fsyncDir(dir);
      } catch (err) {
        body.destroy();
        await rm(renamed ? pathOf(key) : tmp, { force: true });
        throw err;
      }
      return toInfo(await stat(pathOf(key)), contentType);
    },

    async get(key, range?: ByteRange) {
      assertStorageKey(key);
      let fh;
      try {
        // O_NOFOLLOW: even a symlink planted in FILES_DIR is never followed.
        fh = await open(pathOf(key), constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch (err) {
        if (isAbsent(err)) return null;
        throw err;
      }
      try {
        // Stat the open descriptor: the size and the bytes come from the same file even if a
        // delete races with this read.
        const info = toInfo(await fh.stat(), await readType(key));
        const body = fh.createReadStream(range ? { start: range.start, end: range.end } : {});
        return { body, info };
      } catch (err) {
        await fh.close();
        throw err;
      }
    },

    async head(key) {
      assertStorageKey(key);
      try {
        const st = await lstat(pathOf(key));
        return st.isFile() ? toInfo(st, await readType(key)) : null;
      } catch (err) {
        if (isAbsent(err)) return null;
        throw err;
      }
    },

    async delete(key) {
      assertStorageKey(key);
      // Data first: once it is gone the key is absent, whatever happens to the type file.
      await unlink(pathOf(key)).catch(ignoreAbsent);
      await unlink(typePathOf(key)).catch(ignoreAbsent);
    },

    async close() {},
  };
}

/** Writes body to a new file at path and fsyncs it; the caller removes path on failure. */
async function writeDurably(path: string, body: Readable): Promise<void> {
  const fh = await open(path, 'wx', 0o640);
  try {
    // One chunk at a time: the body's own backpressure bounds memory.
    for await (const chunk of body) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      let off = 0;
      while (off < buf.length) off += (await fh.write(buf, off)).bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function sweepStaleTemps(tmpDir: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(tmpDir)) {
    const p = join(tmpDir, name);
    const st = await stat(p).catch(() => null);
    if (st && now - st.mtimeMs > STALE_TMP_MS) await rm(p, { force: true });
  }
}

function toInfo(st: { size: number; mtimeMs: number }, contentType: string): StoredObject {
  return { size: st.size, contentType, etag: `${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}` };
}

function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  // ELOOP: a symlink at the key (O_NOFOLLOW) is treated as nothing there.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}

function ignoreAbsent(err: unknown): void {
  if (!isAbsent(err)) throw err;
}
