// The real AuroraChat stack for browser tests: one redis-server, the users service (serving
// frontend/), TWO chat replicas and one ingestion worker sharing a temporary SQLite file, plus
// small TCP proxies between the browser and the replicas so a test can refuse, cut or silence
// one browser's connections without touching the other's (Playwright's offline mode does not
// affect WebSockets). Replicas can also be SIGKILLed and restarted on the same port.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { freePorts, waitFor } from '../helpers/ports.js';

export const JWT_SECRET = 'browser-test-secret-0123456789abcdef0123456789';

export interface ChatReplica {
  id: string;
  port: number;
  service: RunningService;
  /** Every log line of every run of this replica. */
  logs(): string[];
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface Stack {
  redis: TestRedis;
  users: RunningService;
  ingestion: RunningService;
  chatA: ChatReplica;
  chatB: ChatReplica;
  origin: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startStack(
  {
    chatEnv = {},
    usersEnv = {},
    ingestionEnv = {},
  }: { chatEnv?: Record<string, string>; usersEnv?: Record<string, string>; ingestionEnv?: Record<string, string> } = {},
): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'aurora-browser-'));
  const sqlite = join(dir, 'aurora.db');
  const redis = await startRedis();
  const [portA, portB, usersPort] = (await freePorts(3)) as [number, number, number];
  const origin = `http://127.0.0.1:${usersPort}`;
  const common = { REDIS_URL: redis.url, JWT_SECRET, LOG_LEVEL: 'info' };

  const users = await startService('users', {
    ...common,
    PORT: String(usersPort),
    SQLITE_PATH: sqlite,
    BCRYPT_COST: '4',
    PUBLIC_WS_URL: `ws://127.0.0.1:${portA}/ws,ws://127.0.0.1:${portB}/ws`,
    ...usersEnv,
  });
  const ingestion = await startService('ingestion', { ...common, SQLITE_PATH: sqlite, INGEST_BATCH_MS: '20', ...ingestionEnv });

  const replica = async (id: string, port: number): Promise<ChatReplica> => {
    const env = {
      ...common,
      PORT: String(port),
      REPLICA_ID: id,
      ALLOWED_ORIGINS: origin,
      MAX_FRAMES_PER_SEC: '200',
      RATE_LIMIT_MESSAGES: '30',
      RATE_LIMIT_WINDOW_MS: '10000',
      // The browser tests prove the per-room limit (its wording, its countdown); alice sends more
      // than the default account-wide budget over a run, which would otherwise refuse first.
      USER_SEND_MAX_MESSAGES: '100000',
      USER_SEND_MAX_BYTES: '1073741824',
      ROOM_CREATE_MAX: '100000',
      PRESENCE_TTL_SEC: '6',
      SHUTDOWN_DRAIN_MS: '500',
      ...chatEnv,
    };
    const runs: RunningService[] = [];
    const start = async () => {
      const s = await startService('chat', env);
      runs.push(s);
      return s;
    };
    const r: ChatReplica = {
      id,
      port,
      service: await start(),
      logs: () => runs.flatMap((s) => s.logs),
      async kill() {
        await r.service.stop('SIGKILL');
      },
      async restart() {
        r.service = await start();
      },
    };
    return r;
  };
  const chatA = await replica('chat-a', portA);
  const chatB = await replica('chat-b', portB);

  return {
    redis,
    users,
    ingestion,
    chatA,
    chatB,
    origin,
    dir,
    async stop() {
      for (const s of [chatA.service, chatB.service, ingestion, users]) await s.stop('SIGTERM').catch(() => {});
      await Promise.race([
        Promise.all([chatA.service.exited, chatB.service.exited, ingestion.exited, users.exited]),
        new Promise((r) => setTimeout(r, 8000)),
      ]);
      for (const s of [chatA.service, chatB.service, ingestion, users]) await s.stop('SIGKILL').catch(() => {});
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- a controllable TCP proxy ---------------------------------------------------------------

export type ProxyMode = 'pass' | 'refuse' | 'silent';

export interface TcpProxy {
  port: number;
  /** ws URL through this proxy. */
  wsUrl: string;
  /** pass: forward; refuse: close new connections at once; silent: accept and forward nothing. */
  setMode(mode: ProxyMode): void;
  /** Silences the connections open now without closing them: both directions, or only
   *  server → client ('down': requests still arrive, answers are lost). */
  silenceOpen(direction?: 'both' | 'down'): void;
  /** Destroys every open connection (the browser sees an abrupt close). */
  cutAll(): void;
  open(): number;
  close(): Promise<void>;
}

/** `targetPort` may be a function: a proxy started before the stack (its URL must be in the
 *  users service's PUBLIC_WS_URL, which the page's CSP connect-src is built from) looks the
 *  port up at each connection. */
export async function startProxy(targetPort: number | (() => number)): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  const pairs = new Set<{ a: Socket; b: Socket | null; silent: boolean; silentDown: boolean }>();
  const server: Server = createServer((client) => {
    client.on('error', () => {});
    if (mode === 'refuse') {
      client.destroy();
      return;
    }
    const pair = { a: client, b: null as Socket | null, silent: mode === 'silent', silentDown: false };
    pairs.add(pair);
    const upstream = connect(typeof targetPort === 'function' ? targetPort() : targetPort, '127.0.0.1');
    pair.b = upstream;
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => {
      pairs.delete(pair);
      client.destroy();
    });
    client.on('data', (d) => {
      if (!pair.silent) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!pair.silent && !pair.silentDown) client.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const cutAll = () => {
    for (const p of pairs) {
      p.a.destroy();
      p.b?.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    setMode(m) {
      mode = m;
    },
    silenceOpen(direction = 'both') {
      for (const p of pairs) {
        if (direction === 'both') p.silent = true;
        else p.silentDown = true;
      }
    },
    cutAll,
    open: () => pairs.size,
    async close() {
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// --- REST and WebSocket helpers for seeding -----------------------------------------------------

export async function rest<T = any>(base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

export async function registerAndLogin(base: string, username: string, password = 'correct horse battery') {
  const reg = await rest(base, 'POST', '/api/auth/register', { username, password });
  if (reg.status !== 201) throw new Error(`register ${username}: ${reg.status} ${JSON.stringify(reg.body)}`);
  const login = await rest<{ token: string; user: { id: string; username: string } }>(base, 'POST', '/api/auth/login', { username, password });
  if (login.status !== 200) throw new Error(`login ${username}: ${login.status}`);
  return login.body;
}

/** A minimal protocol client for seeding messages from Node. */
export async function wsClient(url: string, token: string, origin: string) {
  const ws = new WebSocket(url, ['aurora.v1', `bearer.${token}`], { origin });
  const frames: any[] = [];
  const waiters: Array<{ pred: (f: any) => boolean; resolve: (f: any) => void }> = [];
  ws.on('message', (data) => {
    const f = JSON.parse(String(data));
    frames.push(f);
    for (const w of [...waiters]) {
      if (w.pred(f)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
    }
  });
  const next = (pred: (f: any) => boolean, timeoutMs = 10_000) => {
    const found = frames.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<any>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      waiters.push({ pred, resolve: (f) => (clearTimeout(t), resolve(f)) });
    });
  };
  await next((f) => f.type === 'hello');
  return {
    ws,
    frames,
    next,
    async join(room: string) {
      ws.send(JSON.stringify({ type: 'join', room }));
      return next((f) => f.type === 'joined' && f.room === room);
    },
    async send(room: string, text: string, cid: string) {
      ws.send(JSON.stringify({ type: 'send', room, text, cid }));
      const f = await next((x) => (x.type === 'ack' || x.type === 'error') && (x.cid === cid || x.ref === cid));
      if (f.type === 'error') throw new Error(`send refused: ${f.code} ${f.message}`);
      return f as { id: string };
    },
    close: () => ws.close(),
  };
}

export { waitFor };
