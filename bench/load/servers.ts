// Server processes for the fan-out benchmark and its test: the anchors (bench/anchors/), and
// any service script under extra node flags (--cpu-prof). Stopped with SIGKILL, or SIGTERM when
// profiling so that the profile gets written on exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, waitFor } from '../../test/helpers/ports.js';

export interface ServerProc {
  proc: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/**
 * A server process `node [--cpu-prof ...] --import tsx <script>` on a free PORT and ADMIN_PORT, up
 * once `path` answers 200 — /readyz on the admin port (or, for a tree from before ADMIN_PORT, such
 * as sendpath.bench.ts's baseline, on the main port), anything else on the main port.
 * Used for the anchors, and for AuroraChat's processes when profiling (startService cannot
 * pass node flags, and --cpu-prof is not allowed in NODE_OPTIONS).
 */
export async function startNode(script: string, env: Record<string, string>, url: (port: number) => string, path = '/healthz', prof: string[] = []): Promise<ServerProc> {
  const port = await freePort();
  const adminPort = await freePort();
  const logs: string[] = [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', script], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production', LOG_PRETTY: 'false', ...env, PORT: String(port), ADMIN_PORT: String(adminPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const s of [proc.stdout!, proc.stderr!]) s.on('data', (c: Buffer) => logs.push(c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`${script} exited: ${logs.join('').slice(-2000)}`);
      const ok = (p: number) => fetch(`http://127.0.0.1:${p}${path}`).then((r) => r.ok, () => false);
      return path === '/readyz' ? (await ok(adminPort)) || (await ok(port)) : ok(port);
    },
    { timeoutMs: 30_000, what: `${script} ${path}` },
  ).catch((err) => {
    proc.kill('SIGKILL');
    throw err;
  });
  return {
    proc,
    url: url(port),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(prof.length > 0 ? 'SIGTERM' : 'SIGKILL');
        const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** An anchor (bench/anchors/<kind>-server.ts); `url` is what the load generator connects to. */
export function startAnchor(kind: 'socketio' | 'seed' | 'wsfloor', redisUrl: string, jwtSecret: string, nodeArgs: string[] = []): Promise<ServerProc> {
  return startNode(
    `bench/anchors/${kind}-server.ts`,
    { REDIS_URL: redisUrl, JWT_SECRET: jwtSecret },
    (port) => (kind === 'socketio' ? `http://127.0.0.1:${port}` : `ws://127.0.0.1:${port}/ws`),
    '/healthz',
    nodeArgs,
  );
}
