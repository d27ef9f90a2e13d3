// The upload pipeline (issue 16; files-spec "Attachments: flow" step 1): one request body in,
// one stored file (+ thumbnail for images) and its Attachment out, or a refusal the route turns
// into 413/415/400. It never holds the body: bytes are counted as they pass and the upload
// stops at the first byte past maxBytes; the type is sniffed from the first bytes before
// anything is stored; other files stream straight into the storage, images are spooled to a
// temp file (bounded by maxBytes: sharp needs the whole image) and only sharp's output — EXIF
// stripped — is stored.
//
// On a refusal the body is left paused, partly read: the route answers and should close the
// connection (`Connection: close`) rather than let the server drain a huge body.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { attachmentName, type Attachment } from '../../shared/attachments.js';
import { storageKeys, type FileStorage } from './file-storage.js';
import { IMAGE_MAX_PIXELS, ImageError, THUMB_TYPE, processImage } from './images.js';
import { IMAGE_TYPES, SNIFF_BYTES, sniffType } from './sniff.js';

export interface UploadRequest {
  body: Readable;
  /** The request's Content-Length, when it had one: past maxBytes is refused before reading. */
  declaredLength?: number | undefined;
  /** The client's file name (cleaned here with attachmentName). */
  name: string;
  maxBytes: number;
  /** ATTACHMENT_TYPES: sniffed types that may be stored. */
  allowedTypes: readonly string[];
  storage: FileStorage;
  /** The upload id (default: a new one). */
  id?: string;
  /** Images: largest pixel count decoded (default IMAGE_MAX_PIXELS). */
  maxPixels?: number;
  /** Where images are spooled (default: the OS temp directory). */
  tmpDir?: string;
}

export type UploadRefusal = {
  ok: false;
  status: 413 | 415 | 400;
  code: 'too_large' | 'unsupported_type' | 'empty' | 'bad_image';
  message: string;
};

export type UploadResult =
  | { ok: true; attachment: Attachment; storageKey: string; thumbKey?: string }
  | UploadRefusal;

/** 'a' + 24 hex (96 random bits): ATTACHMENT_ID_RE. */
export function newAttachmentId(): string {
  return `a${randomBytes(12).toString('hex')}`;
}

/**
 * Stores one upload. Resolves with the Attachment or a refusal; rejects when the body fails
 * (the client went away) or the storage does — in every case but success nothing is kept.
 */
export async function storeUpload(req: UploadRequest): Promise<UploadResult> {
  const { maxBytes } = req;
  const tooLarge = (): UploadRefusal => ({
    ok: false,
    status: 413,
    code: 'too_large',
    message: `file too large (at most ${maxBytes} bytes)`,
  });
  if (req.declaredLength !== undefined && req.declaredLength > maxBytes) return tooLarge();

  const source = meter(req.body, maxBytes);
  const head = await source.readHead(SNIFF_BYTES);
  if (source.overLimit) return tooLarge();
  if (head.length === 0) return { ok: false, status: 400, code: 'empty', message: 'the file is empty' };

  const type = await sniffType(head);
  if (!req.allowedTypes.includes(type)) {
    await source.stop();
    return { ok: false, status: 415, code: 'unsupported_type', message: `files of type ${type} are not accepted` };
  }

  const id = req.id ?? newAttachmentId();
  const keys = storageKeys(id);
  const name = attachmentName(req.name);

  if (!IMAGE_TYPES.has(type)) {
    try {
      const info = await req.storage.put(keys.file, source.stream(), type);
      return { ok: true, attachment: { id, name, type, size: info.size }, storageKey: keys.file };
    } catch (err) {
      // The port promises nothing is left; one more delete covers a storage that committed
      // before the error surfaced, for the price of one call on a failure path.
      await req.storage.delete(keys.file).catch(() => {});
      if (source.overLimit) return tooLarge();
      throw err;
    }
  }

  const dir = await mkdtemp(join(req.tmpDir ?? tmpdir(), 'aurora-upload-'));
  try {
    const spool = join(dir, 'in');
    const output = join(dir, 'out');
    try {
      await pipeline(source.stream(), createWriteStream(spool, { flags: 'wx', mode: 0o600 }));
    } catch (err) {
      if (source.overLimit) return tooLarge();
      throw err;
    }
    let image;
    try {
      image = await processImage(spool, output, req.maxPixels ?? IMAGE_MAX_PIXELS);
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      return err.code === 'too_many_pixels'
        ? { ok: false, status: 413, code: 'too_large', message: err.message }
        : { ok: false, status: 415, code: 'bad_image', message: err.message };
    }
    try {
      const info = await req.storage.put(keys.file, createReadStream(output), image.type);
      await req.storage.put(keys.thumb, Readable.from([image.thumb]), THUMB_TYPE);
      return {
        ok: true,
        attachment: { id, name, type: image.type, size: info.size, width: image.width, height: image.height, thumb: true },
        storageKey: keys.file,
        thumbKey: keys.thumb,
      };
    } catch (err) {
      await Promise.all([req.storage.delete(keys.file), req.storage.delete(keys.thumb)]).catch(() => {});
      throw err;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The body, read once, counted: readHead() peeks at the first bytes (they are replayed by
 * stream()); stream() yields the whole body and fails with overLimit set at the first byte past
 * maxBytes. The body is never destroyed here (see the file comment); only read no further.
 */
function meter(body: Readable, maxBytes: number) {
  const it = body.iterator({ destroyOnReturn: false });
  const headChunks: Buffer[] = [];
  let count = 0;
  let ended = false;
  const state = { overLimit: false };

  async function next(): Promise<Buffer | null> {
    const r = await it.next();
    if (r.done) {
      ended = true;
      return null;
    }
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : (r.value as Buffer);
    count += chunk.length;
    if (count > maxBytes) {
      state.overLimit = true;
      await it.return?.();
      throw new Error(`upload exceeds ${maxBytes} bytes`);
    }
    return chunk;
  }

  return {
    get overLimit() {
      return state.overLimit;
    },
    async readHead(bytes: number): Promise<Buffer> {
      let have = 0;
      try {
        while (have < bytes && !ended) {
          const chunk = await next();
          if (chunk) {
            headChunks.push(chunk);
            have += chunk.length;
          }
        }
      } catch (err) {
        if (!state.overLimit) throw err;
      }
      return Buffer.concat(headChunks);
    },
    stream(): Readable {
      async function* all() {
        yield* headChunks;
        headChunks.length = 0;
        for (let chunk = ended ? null : await next(); chunk; chunk = await next()) yield chunk;
      }
      return Readable.from(all(), { objectMode: false });
    },
    async stop(): Promise<void> {
      await it.return?.();
    },
  };
}
