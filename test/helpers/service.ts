// Starts a real service process (`node --import tsx services/<name>/main.ts`) with its own env,
// on a free PORT and a free ADMIN_PORT (/readyz and /metrics live there: `adminUrl`), waits until
// /healthz answers on both, keeps its log lines for assertions, and stops it by signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePorts, waitFor } from './ports.js';

export interface RunningService {
  name: string;
  port: number;
  baseUrl: string;
  /** ADMIN_PORT: /readyz, /metrics (and /healthz). */
  adminPort: number;
  adminUrl: string;
  proc: ChildProcess;
  /** Every stdout/stderr line so far (JSON log lines in test mode). */
  logs: string[];
  /** Sends `signal` and resolves with the exit code once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function startService(
  name: 'users' | 'chat' | 'ingestion' | 'assistant',
  env: Record<string, string>,
  { waitReady = false, timeoutMs = 20_000, nodeArgs = [] as string[] } = {},
): Promise<RunningService> {
  // Two ports per service, never the same one (the service refuses ADMIN_PORT = PORT).
  const [port, adminPort] = await servicePorts(env);
  const logs: string[] = [];
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', `services/${name}/main.ts`], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      ...env,
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(line);
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

  const baseUrl = `http://127.0.0.1:${port}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const path = waitReady ? '/readyz' : '/healthz';
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}:\n${logs.join('\n')}`);
      return (await fetch(adminUrl + path)).ok && (await fetch(baseUrl + '/healthz')).ok;
    },
    { timeoutMs, what: `${name} ${path}` },
  ).catch((err) => {
    proc.kill('SIGKILL');
    throw new Error(`${String(err)}\n--- ${name} logs ---\n${logs.slice(-40).join('\n')}`);
  });

  return {
    name,
    port,
    baseUrl,
    adminPort,
    adminUrl,
    proc,
    logs,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
  };
}

/** The service's PORT and ADMIN_PORT: the ones `env` gives, the others free and distinct from them. */
async function servicePorts(env: Record<string, string>): Promise<[number, number]> {
  const given = [env.PORT, env.ADMIN_PORT].map((p) => (p ? Number(p) : undefined));
  const free = (await freePorts(3)).filter((p) => !given.includes(p));
  const port = given[0] ?? free.shift()!;
  const adminPort = given[1] ?? free.find((p) => p !== port)!;
  return [port, adminPort];
}
