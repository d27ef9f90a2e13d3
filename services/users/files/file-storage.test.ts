// Runs the one FileStorage contract against: the disk storage (a fresh temp directory), the S3
// storage against s3rver (a local server speaking the S3 HTTP API, started here: the real SDK,
// real HTTP, real multipart; it does not check signatures), and a real S3 bucket when S3_BUCKET
// and credentials are set. Plus what only the disk layout can show.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import S3rver from 's3rver';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileStorage, storageKeys } from './file-storage.js';
import { fileStorageContract, patternBody } from './file-storage.contract.js';
import { openDiskStorage } from './disk-storage.js';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const dir = mkdtempSync(join(tmpdir(), 'aurora-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

fileStorageContract('disk', () => openDiskStorage(join(dir, 'disk')));

// --- s3rver: port 0 on 127.0.0.1, its own directory, the bucket created through the SDK.
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
let servers = 0;
async function startS3rver(bucket?: string): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(dir, `s3rver${++servers}`) });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  if (bucket) {
    const admin = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials });
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    admin.destroy();
  }
  return {
    endpoint,
    stop: async () => {
      // Without this, close() waits ~6 s for the SDK's keep-alive sockets.
      server.httpServer.closeAllConnections();
      await server.close();
    },
  };
}

const s3Config = (endpoint: string, bucket: string) =>
  ({
    FILE_STORAGE: 's3',
    FILES_DIR: 'unused',
    S3_BUCKET: bucket,
    S3_REGION: 'us-east-1',
    S3_ENDPOINT: endpoint,
    S3_ACCESS_KEY_ID: credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    S3_FORCE_PATH_STYLE: true,
  }) as const;

let stopS3rver: (() => Promise<void>) | undefined;
fileStorageContract(
  's3 (s3rver)',
  async () => {
    const { endpoint, stop } = await startS3rver('aurora-test-files');
    stopS3rver = stop;
    // Through the factory, as the users service opens it from its config.
    const storage = await createFileStorage(s3Config(endpoint, 'aurora-test-files'));
    expect(storage.kind).toBe('s3');
    return storage;
  },
  async (storage) => {
    await storage.close();
    await stopS3rver!();
  },
);

describe('s3 file storage start-up', () => {
  it('refuses to start on a bucket that does not exist, naming it', async () => {
    const { endpoint, stop } = await startS3rver();
    try {
      await expect(createFileStorage(s3Config(endpoint, 'no-such-bucket'))).rejects.toThrow('S3 bucket no-such-bucket does not exist');
    } finally {
      await stop();
    }
  });
});

// --- a real bucket, when configured.
const S3_BUCKET = process.env.S3_BUCKET;
const realS3 = Boolean(S3_BUCKET && process.env.S3_ACCESS_KEY_ID && process.env.S3_SECRET_ACCESS_KEY);
if (!realS3) {
  // The default reporter only counts skips; this line makes the missing real-S3 run visible.
  process.stderr.write(
    '\n*** Real S3 file storage contract SKIPPED: S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are not set.\n' +
      '*** Run it with S3_BUCKET=... S3_ACCESS_KEY_ID=... S3_SECRET_ACCESS_KEY=... [S3_REGION=... S3_ENDPOINT=... S3_FORCE_PATH_STYLE=true]\n' +
      '*** (it writes and then deletes random keys in that bucket).\n\n',
  );
}
describe.skipIf(!realS3)('real S3 — SKIPPED: set S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY to run against a real bucket', () => {
  fileStorageContract('s3 (real bucket)', () =>
    createFileStorage({
      FILE_STORAGE: 's3',
      FILES_DIR: 'unused',
      S3_BUCKET,
      S3_REGION: process.env.S3_REGION || 'us-east-1',
      S3_ENDPOINT: process.env.S3_ENDPOINT || undefined,
      S3_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY,
      S3_FORCE_PATH_STYLE: process.env.S3_FORCE_PATH_STYLE === 'true',
    }),
  );
});

describe('disk file storage layout', () => {
  const id = () => `a${randomBytes(12).toString('hex')}`;

  it('shards by the two hex digits after the a, with the type beside the bytes, and leaves no temp file', async () => {
    const root = join(dir, 'layout');
    const storage = await createFileStorage({ FILE_STORAGE: 'disk', FILES_DIR: root } as never);
    expect(storage.kind).toBe('disk');
    const key = id();
    await storage.put(key, patternBody(3000), 'application/pdf');
    expect(existsSync(join(root, key.slice(1, 3), key))).toBe(true);
    expect(existsSync(join(root, key.slice(1, 3), `${key}.type`))).toBe(true);
    expect(readdirSync(join(root, '.tmp'))).toEqual([]);
    const failing = id();
    await expect(storage.put(failing, patternBody(500_000, { at: 200_000, error: new Error('gone') }), 'text/plain')).rejects.toThrow('gone');
    expect(readdirSync(join(root, '.tmp')), 'a failed put leaves no temp file').toEqual([]);
    await storage.put(`${key}.thumb`, Readable.from([Buffer.from('x')]), 'image/webp');
    await storage.delete(key);
    expect(readdirSync(join(root, key.slice(1, 3))).sort()).toEqual([`${key}.thumb`, `${key}.thumb.type`]);
  });

  it('never follows a symlink planted at a key', async () => {
    const root = join(dir, 'symlink');
    const storage = await openDiskStorage(root);
    const key = id();
    const secret = join(dir, 'secret.txt');
    writeFileSync(secret, 'not yours');
    mkdirSync(join(root, key.slice(1, 3)), { recursive: true });
    symlinkSync(secret, join(root, key.slice(1, 3), key));
    expect(await storage.get(key)).toBeNull();
    expect(await storage.head(key)).toBeNull();
  });

  it('sweeps temp files a crash left more than an hour ago, and only those', async () => {
    const root = join(dir, 'sweep');
    await openDiskStorage(root);
    const { utimesSync } = await import('node:fs');
    writeFileSync(join(root, '.tmp', 'old'), 'x');
    writeFileSync(join(root, '.tmp', 'young'), 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(root, '.tmp', 'old'), twoHoursAgo, twoHoursAgo);
    await openDiskStorage(root);
    expect(readdirSync(join(root, '.tmp'))).toEqual(['young']);
  });

  it('names the keys of one upload and refuses an id that is not one', () => {
    const a = id();
    expect(storageKeys(a)).toEqual({ file: a, thumb: `${a}.thumb` });
    expect(() => storageKeys('../etc')).toThrow(/invalid storage key/);
  });
});
