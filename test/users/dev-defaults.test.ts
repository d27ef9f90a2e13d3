// `./run.sh` and `npm run start:*` run without NODE_ENV, with the development JWT_SECRET — which
// is in this repository, so anyone who can reach such a service can sign themselves in as
// anyone. Started that way a service must be reachable from this machine only, and one told to
// listen on every interface must refuse to start unless NODE_ENV says development/test.
// Real processes, started here without NODE_ENV and without HOST (test/helpers/service.ts
// always sets NODE_ENV=test, so it is not used).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

let redis: TestRedis;
let dir: string;

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-dev-defaults-'));
});
afterAll(async () => {
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts `services/<name>/main.ts` with exactly `env` (plus PATH/HOME): no NODE_ENV unless given. */
function spawnBare(name: 'users' | 'chat', env: Record<string, string>) {
  const logs: string[] = [];
  const proc = spawn(process.execPath, ['--import', 'tsx', `services/${name}/main.ts`], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_PRETTY: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(line);
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, logs, exited };
}

/** This machine's first non-loopback IPv4 address (what `hostname -I` prints first), if any. */
function externalIPv4(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** 'connected' or the connect error's code (ECONNREFUSED when nothing listens there). */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.setTimeout(3000, () => {
      s.destroy();
      resolve('timeout');
    });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
}

describe('a service started without NODE_ENV (./run.sh, npm run start:*)', () => {
  it('listens on 127.0.0.1 only: it answers there, its log says host 127.0.0.1, and the machine’s other address is refused', async () => {
    const port = await freePort();
    const adminPort = await freePort();
    const svc = spawnBare('users', {
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      REDIS_URL: redis.url,
      SQLITE_PATH: join(dir, 'users.db'),
      BCRYPT_COST: '4',
      FRONTEND_DIR: join(dir, 'no-frontend'),
    });
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, {
        timeoutMs: 20_000,
        what: `users /healthz (logs: ${svc.logs.join('\n')})`,
      });
      // the admin listener (/readyz, /metrics) binds the same HOST
      await waitFor(async () => (await fetch(`http://127.0.0.1:${adminPort}/healthz`)).ok, { timeoutMs: 5_000, what: 'users admin /healthz' });
      const external = externalIPv4();
      if (external) {
        expect(await tryConnect(external, port), `connecting to ${external}:${port}`).toBe('ECONNREFUSED');
        expect(await tryConnect(external, adminPort), `connecting to ${external}:${adminPort}`).toBe('ECONNREFUSED');
      } else console.warn('no non-loopback IPv4 address on this machine: only the log line was checked');
      const listening = svc.logs.map((l) => JSON.parse(l) as { msg?: string; host?: string }).find((l) => l.msg === 'users service listening');
      expect(listening?.host).toBe('127.0.0.1');
    } finally {
      svc.proc.kill('SIGKILL');
      await svc.exited;
    }
  });

  it.each(['users', 'chat'] as const)(
    '%s refuses to start on HOST=0.0.0.0 with the public development JWT_SECRET, in one line naming HOST',
    async (name) => {
      const svc = spawnBare(name, {
        PORT: String(await freePort()),
        ADMIN_PORT: String(await freePort()),
        HOST: '0.0.0.0',
        REDIS_URL: redis.url,
        SQLITE_PATH: join(dir, `${name}-refused.db`),
      });
      const code = await Promise.race([
        svc.exited,
        new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 15_000)),
      ]);
      if (code === 'still running') svc.proc.kill('SIGKILL');
      expect(code).toBe(1);
      expect(svc.logs).toEqual([
        `[${name}] configuration error: invalid HOST="0.0.0.0": the development JWT_SECRET is public; set JWT_SECRET, listen on a loopback address, or set NODE_ENV=development explicitly`,
      ]);
    },
    20_000,
  );

  it('starts on HOST=0.0.0.0 with the default secret when NODE_ENV=development is set explicitly', async () => {
    const port = await freePort();
    const svc = spawnBare('chat', { NODE_ENV: 'development', PORT: String(port), ADMIN_PORT: String(await freePort()), HOST: '0.0.0.0', REDIS_URL: redis.url });
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, { timeoutMs: 20_000, what: 'chat /healthz' });
    } finally {
      svc.proc.kill('SIGKILL');
      await svc.exited;
    }
  });
});
