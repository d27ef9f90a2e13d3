// The FileStorage port (issue 16; DESIGN.md "Files"): where uploaded bytes live. Two
// implementations behind one contract (file-storage.contract.ts): local disk, the embedded
// default (disk-storage.ts), and any S3-compatible endpoint (s3-storage.ts).
//
// Keys are never a client's words: only `<id>` and `<id>.thumb`, where id is an upload id
// (ATTACHMENT_ID_RE) the users service generated. Every method refuses any other shape, so no
// request can name a path or another bucket prefix, whatever a route forgets to check.
import type { Readable } from 'node:stream';
import type { Config } from '../../shared/config.js';
import { ATTACHMENT_ID_RE } from '../../shared/attachments.js';

export interface StoredObject {
  /** Bytes of the whole object (also on a range read). */
  size: number;
  contentType: string;
  /** Opaque validator, without quotes (the route quotes it for the ETag header). */
  etag: string;
}

export interface FileStorage {
  readonly kind: 'disk' | 's3';
  /**
   * Streams `body` to `key`; resolves when durable. A failed or aborted body (or a failed write)
   * rejects and leaves nothing at key. The body is consumed or destroyed either way.
   */
  put(key: string, body: Readable, contentType: string): Promise<StoredObject>;
  /** null when absent. range: inclusive byte offsets already validated against size. */
  get(key: string, range?: ByteRange): Promise<{ body: Readable; info: StoredObject } | null>;
  head(key: string): Promise<StoredObject | null>;
  /** Idempotent: deleting an absent key is fine. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface ByteRange {
  start: number;
  end: number;
}

const KEY_RE = new RegExp(`^${ATTACHMENT_ID_RE.source.slice(1, -1)}(?:\\.thumb)?$`);

export class InvalidStorageKeyError extends Error {
  constructor(key: string) {
    super(`invalid storage key ${JSON.stringify(key.slice(0, 60))}: only <upload id> or <upload id>.thumb`);
    this.name = 'InvalidStorageKeyError';
  }
}

export function isStorageKey(key: unknown): key is string {
  return typeof key === 'string' && KEY_RE.test(key);
}

/** Throws InvalidStorageKeyError for anything but `<id>` / `<id>.thumb`. */
export function assertStorageKey(key: string): void {
  if (!isStorageKey(key)) throw new InvalidStorageKeyError(String(key));
}

/** The keys one upload uses: the (stripped) file and, for images, its thumbnail. */
export function storageKeys(id: string): { file: string; thumb: string } {
  if (!ATTACHMENT_ID_RE.test(id)) throw new InvalidStorageKeyError(id);
  return { file: id, thumb: `${id}.thumb` };
}

export type FileStorageConfig = Pick<
  Config,
  | 'FILE_STORAGE'
  | 'FILES_DIR'
  | 'S3_ENDPOINT'
  | 'S3_BUCKET'
  | 'S3_REGION'
  | 'S3_ACCESS_KEY_ID'
  | 'S3_SECRET_ACCESS_KEY'
  | 'S3_FORCE_PATH_STYLE'
>;

/**
 * The storage the config names. The S3 module (and the AWS SDK) is imported only when used, so
 * disk deployments never load it.
 */
export async function createFileStorage(config: FileStorageConfig): Promise<FileStorage> {
  if (config.FILE_STORAGE === 's3') {
    if (!config.S3_BUCKET) throw new Error('FILE_STORAGE=s3 needs S3_BUCKET');
    const { openS3Storage } = await import('./s3-storage.js');
    return openS3Storage({
      bucket: config.S3_BUCKET,
      region: config.S3_REGION,
      endpoint: config.S3_ENDPOINT,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      credentials:
        config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
          ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
          : undefined,
    });
  }
  const { openDiskStorage } = await import('./disk-storage.js');
  return openDiskStorage(config.FILES_DIR);
}
