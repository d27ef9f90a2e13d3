// A throwaway real redis-server for one test file: own port, own temp dir, killed at the end.
// restart() keeps the port (and, with AOF on, the data) so tests can prove reconnection.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './ports.js';

export interface TestRedis {
  url: string;
  port: number;
  /** A fresh client (closed by stop()). */
  client(): Redis;
  stop(): Promise<void>;
  /** Kill -9 and start again on the same port (data kept only with appendonly). */
  restart(opts?: { downMs?: number }): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
}

/**
 * `replicaOf`: the port of a master on this host; the server starts as its replica.
 * `appendfsync` (with appendonly): Redis's default `everysec` can lose acked writes to a kill -9
 * when the disk is busy (README "What an ack promises"; `npm run bench -- durability`), so a test
 * that kills Redis and expects every acked write back asks for `always`.
 */
export async function startRedis(opts: { appendonly?: boolean; appendfsync?: 'always' | 'everysec'; replicaOf?: number } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'aurora-redis-'));
  const clients: Redis[] = [];
  let proc: ChildProcess | null = null;

  const start = async () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', opts.appendonly ? 'yes' : 'no', '--appendfsync', opts.appendfsync ?? 'everysec', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning', ...(opts.replicaOf ? ['--replicaof', '127.0.0.1', String(opts.replicaOf)] : [])],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    await waitFor(
      async () => {
        const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on('error', () => {});
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } finally {
          probe.disconnect();
        }
      },
      { timeoutMs: 10_000, what: `redis-server on ${port}` },
    );
  };

  const kill = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };

  await start();
  const url = `redis://127.0.0.1:${port}`;
  return {
    url,
    port,
    client() {
      const c = new Redis(url, { maxRetriesPerRequest: 2 });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.disconnect();
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart({ downMs = 200 } = {}) {
      await kill();
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    kill,
    start,
  };
}
