// Files benchmark (issue 16: "upload throughput of a 25 MiB file and the users service's RSS during
// 10 parallel uploads (bounded)"): the real users service on disk storage, uploads over HTTP.
//
// Method
// - Anchor: the same bytes written by this process to a file in the same directory tree through
//   a write stream (what the disk alone costs), then fsync'ed — the floor an upload can reach.
// - Upload: SIZE_MIB of text-like bytes (type text/plain: streamed straight into storage) POSTed
//   ROUNDS times one after the other; MiB/s of the median and its ratio to the anchor.
// - Image: a 2000x1500 PNG (rotate + re-encode without metadata + a 320 px WebP thumbnail in sharp)
//   — ms per upload, median of ROUNDS.
// - Memory: PARALLEL uploads of SIZE_MIB at once while the service's RSS is sampled every 20 ms:
//   the peak growth over the idle RSS, against PARALLEL × SIZE_MIB (what buffering bodies would
//   take). Target: under a quarter of that.
// Sizes: BENCH_FILES_MIB (25), BENCH_FILES_ROUNDS (5), BENCH_FILES_PARALLEL (10).
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { startRedis } from '../test/helpers/redis-server.js';
import { startNode } from './load/servers.js';
import { envNumber as env, rssKiB, type Benchmark } from './lib.js';

const SIZE_MIB = env('BENCH_FILES_MIB', 25, 0.01);
const ROUNDS = env('BENCH_FILES_ROUNDS', 5, 1);
const PARALLEL = env('BENCH_FILES_PARALLEL', 10, 1);
const SECRET = 'bench-files-secret-0123456789abcdef0123456';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export const filesBenchmark: Benchmark = {
  name: 'files',
  description: `uploads of ${SIZE_MIB} MiB to the users service (disk storage) vs writing the bytes locally; RSS during ${PARALLEL} parallel uploads`,
  async run(log) {
    const dir = mkdtempSync(join(tmpdir(), 'aurora-bench-files-'));
    const redis = await startRedis();
    let users: Awaited<ReturnType<typeof startNode>> | undefined;
    const bytes = Math.round(SIZE_MIB * 1024 * 1024);
    const body = Buffer.alloc(bytes, 'All work and no play makes Jack a dull boy.\n');
    try {
      users = await startNode(
        'services/users/main.ts',
        {
          REDIS_URL: redis.url, SQLITE_PATH: join(dir, 'aurora.db'), FILES_DIR: join(dir, 'files'), JWT_SECRET: SECRET, BCRYPT_COST: '4',
          REST_MAX_PER_USER: '1000000', ATTACHMENT_UPLOADS_PER_MIN: '100000', ATTACHMENT_QUOTA_BYTES: String(2 ** 40),
          ATTACHMENT_MAX_BYTES: String(Math.max(bytes, 25 * 1024 * 1024)), LOG_LEVEL: 'warn',
        },
        (p) => `http://127.0.0.1:${p}`,
      );
      const url = users.url;
      const post = (path: string, json: unknown) =>
        fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });
      await post('/api/auth/register', { username: 'uploader', password: 'a long enough password' });
      const { token } = (await (await post('/api/auth/login', { username: 'uploader', password: 'a long enough password' })).json()) as { token: string };
      const upload = async (name: string, data: Buffer) => {
        const res = await fetch(`${url}/api/rooms/general/attachments?name=${name}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: data });
        if (res.status !== 201) throw new Error(`upload ${name}: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      };

      const local: number[] = [];
      const remote: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        let t = performance.now();
        const path = join(dir, `local-${i}`);
        await pipeline(Readable.from([body]), createWriteStream(path));
        const fh = await open(path, 'r');
        await fh.sync();
        await fh.close();
        local.push(performance.now() - t);
        rmSync(path);
        t = performance.now();
        await upload(`big-${i}.txt`, body);
        remote.push(performance.now() - t);
      }
      const mibs = (ms: number) => SIZE_MIB / (ms / 1000);
      log(`local write ms: ${local.map((x) => x.toFixed(0)).join(', ')}; upload ms: ${remote.map((x) => x.toFixed(0)).join(', ')}`);

      const png = await sharp({ create: { width: 2000, height: 1500, channels: 3, background: { r: 30, g: 120, b: 200 } } })
        .composite([{ input: Buffer.from('<svg width="2000" height="1500"><circle cx="1000" cy="750" r="600" fill="orange"/></svg>') }])
        .png()
        .toBuffer();
      const image: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const t = performance.now();
        await upload(`img-${i}.png`, png);
        image.push(performance.now() - t);
      }

      const pid = users.proc.pid!;
      const idle = rssKiB(pid);
      let peak = idle;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssKiB(pid));
      }, 20);
      const t = performance.now();
      await Promise.all(Array.from({ length: PARALLEL }, (_, i) => upload(`par-${i}.txt`, body)));
      const parallelMs = performance.now() - t;
      clearInterval(sampler);
      peak = Math.max(peak, rssKiB(pid));
      const growthMiB = (peak - idle) / 1024;
      const buffered = PARALLEL * SIZE_MIB;
      log(`parallel: ${PARALLEL} × ${SIZE_MIB} MiB in ${parallelMs.toFixed(0)} ms; RSS idle ${(idle / 1024).toFixed(1)} MiB, peak ${(peak / 1024).toFixed(1)} MiB`);

      return [
        { metric: `local write of ${SIZE_MIB} MiB + fsync (anchor)`, value: Number(mibs(median(local)).toFixed(1)), unit: 'MiB/s', note: `median of ${ROUNDS}` },
        {
          metric: `upload of ${SIZE_MIB} MiB (text/plain, streamed to disk)`,
          value: Number(mibs(median(remote)).toFixed(1)),
          unit: 'MiB/s',
          ratio: { of: 'local write', value: Number((median(local) / median(remote)).toFixed(2)) },
          note: `median of ${ROUNDS}; ${median(remote).toFixed(0)} ms each`,
        },
        { metric: 'upload of a 2000x1500 PNG (re-encode + thumbnail)', value: Number(median(image).toFixed(0)), unit: 'ms', note: `${(png.length / 1024).toFixed(0)} KiB; median of ${ROUNDS}` },
        { metric: `${PARALLEL} parallel uploads of ${SIZE_MIB} MiB`, value: Number(((PARALLEL * SIZE_MIB) / (parallelMs / 1000)).toFixed(1)), unit: 'MiB/s' },
        {
          metric: `users service RSS growth during them`,
          value: Number(growthMiB.toFixed(1)),
          unit: 'MiB',
          target: { op: '<', value: Math.max(32, buffered / 4) },
          note: `buffering the bodies would take ${buffered.toFixed(0)} MiB; idle RSS ${(idle / 1024).toFixed(0)} MiB`,
        },
      ];
    } finally {
      await users?.stop();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
