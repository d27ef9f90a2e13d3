// FileStorage on any S3-compatible endpoint (AWS, MinIO, R2, ...; S3_* in config.ts).
//
// put streams through lib-storage's Upload: a body smaller than one part becomes one PutObject,
// a larger one a multipart upload, and memory stays at most queueSize × partSize per upload
// whatever the file size. An object appears only when the PutObject or CompleteMultipartUpload
// succeeds, so a failed or aborted body leaves nothing at the key (Upload also aborts the
// multipart upload so its parts are not billed).
import { Readable, Transform } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { assertStorageKey, type ByteRange, type FileStorage, type StoredObject } from './file-storage.js';

export interface S3StorageOptions {
  bucket: string;
  region: string;
  /** Unset: AWS's endpoint for the region. */
  endpoint?: string | undefined;
  forcePathStyle: boolean;
  /** Unset: the SDK's default chain (environment, instance role, ...). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

/** 5 MiB is S3's smallest part; 2 in flight bound one upload's buffers to 10 MiB. */
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;

export async function openS3Storage(opts: S3StorageOptions): Promise<FileStorage> {
  const client = new S3Client({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    // Checksums only where S3 requires them: the newer default (CRC trailers on every upload)
    // is refused by many S3-compatible servers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = opts.bucket;

  try {
    await checkBucket(client, Bucket);
  } catch (err) {
    client.destroy();
    throw err;
  }

  return {
    kind: 's3',

    async put(key, body, contentType) {
      try {
        assertStorageKey(key);
      } catch (err) {
        body.destroy();
        throw err;
      }
      // Count the bytes on their way (Upload reports no size), and remember the body's own
      // error: it is the reason to report, not the abort that Upload does after it.
      let size = 0;
      let bodyError: unknown;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          cb(null, chunk);
        },
      });
      body.once('error', (err) => {
        bodyError = err;
        counter.destroy(err);
      });
      body.pipe(counter);
      const upload = new Upload({
        client,
        params: { Bucket, Key: key, Body: counter, ContentType: contentType },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
      });
      try {
        const out = await upload.done();
        return { size, contentType, etag: unquote(out.ETag) };
      } catch (err) {
        body.unpipe(counter);
        body.destroy();
        counter.destroy();
        throw bodyError ?? err;
      }
    },

    async get(key, range?: ByteRange) {
      assertStorageKey(key);
      try {
        const out = await client.send(
          new GetObjectCommand({ Bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
        );
        const body = out.Body as Readable;
        const whole = parseContentRange(out.ContentRange, out.ContentLength);
        const info: StoredObject = {
          size: whole.total,
          contentType: out.ContentType ?? 'application/octet-stream',
          etag: unquote(out.ETag),
        };
        if (!range || (whole.start === range.start && whole.end === range.end)) return { body, info };
        // Some S3-compatible servers answer more than the range asked (s3rver: bytes=0-0 gives
        // the whole file; others ignore Range and answer 200): cut the asked slice out.
        if (whole.start > range.start || whole.end < range.end) {
          body.destroy();
          throw new Error(`S3 answered bytes ${whole.start}-${whole.end} for ${range.start}-${range.end}`);
        }
        return { body: slice(body, range.start - whole.start, range.end - range.start + 1), info };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    async head(key) {
      assertStorageKey(key);
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
        return {
          size: out.ContentLength ?? 0,
          contentType: out.ContentType ?? 'application/octet-stream',
          etag: unquote(out.ETag),
        };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    async delete(key) {
      assertStorageKey(key);
      try {
        // S3 answers 204 for an absent key too; some compatible servers answer 404.
        await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },

    async close() {
      client.destroy();
    },
  };
}

/**
 * Fails start-up when the bucket does not exist or the endpoint cannot be reached, rather than at
 * the first upload. A 403 passes: credentials limited to object operations may not HeadBucket.
 */
async function checkBucket(client: S3Client, Bucket: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket }));
  } catch (err) {
    if (statusOf(err) === 403) return;
    if (statusOf(err) !== 404) throw new Error(`S3 bucket ${Bucket}: ${(err as Error).message || (err as Error).name}`, { cause: err });
    throw new Error(`S3 bucket ${Bucket} does not exist`, { cause: err });
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  // A missing bucket is a misconfiguration to report, never "no such file".
  const name = (err as Error)?.name;
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(err) === 404;
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/"/g, '');
}

/** The byte span an answer holds: its Content-Range, or the whole object when there is none. */
function parseContentRange(contentRange: string | undefined, length: number | undefined): { start: number; end: number; total: number } {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(contentRange ?? '');
  if (m) return { start: Number(m[1]), end: Number(m[2]), total: Number(m[3]) };
  const total = length ?? 0;
  return { start: 0, end: total - 1, total };
}

/** `take` bytes of `src` after skipping `skip`; src is destroyed once they are out. */
function slice(src: Readable, skip: number, take: number): Readable {
  async function* cut() {
    for await (const chunk of src) {
      let buf = chunk as Buffer;
      if (skip >= buf.length) {
        skip -= buf.length;
        continue;
      }
      buf = buf.subarray(skip, skip + take);
      skip = 0;
      take -= buf.length;
      yield buf;
      if (take === 0) return; // leaving the loop destroys src
    }
  }
  return Readable.from(cut(), { objectMode: false });
}
