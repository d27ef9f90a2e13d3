// Shared set-up for the users service end-to-end tests: a real redis-server, a real users
// process on a temp SQLite file, and a small HTTP client that records every response (status,
// headers, body text) so tests can search everything the service ever sent.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';

export const TEST_JWT_SECRET = 'test-secret-for-users-e2e-0123456789abcdef';

export interface RecordedResponse {
  method: string;
  path: string;
  status: number;
  headers: Headers;
  text: string;
}

export interface CallOptions {
  /** Serialized with JSON.stringify unless it is already a string (sent as is). */
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
}

export interface ApiResponse<T = any> extends RecordedResponse {
  json: T;
}

export interface UsersHarness {
  redis: TestRedis;
  svc: RunningService;
  dir: string;
  sqlitePath: string;
  responses: RecordedResponse[];
  call<T = any>(method: string, path: string, opts?: CallOptions): Promise<ApiResponse<T>>;
  /** A GET on the admin port (ADMIN_PORT: /readyz, /metrics), recorded like `call`. */
  admin<T = any>(path: string): Promise<ApiResponse<T>>;
  register(username: string, password?: string): Promise<{ id: string; username: string }>;
  login(username: string, password?: string): Promise<LoginBody>;
  /**
   * Moves the moment a refresh token was spent `seconds` into the past, straight in the SQLite
   * file, so a test can see the service treat it as spent long ago without waiting.
   */
  backdateSpentRefreshToken(refreshToken: string, seconds: number): void;
  stop(): Promise<void>;
}

export interface LoginBody {
  token: string;
  refreshToken: string;
  expiresIn: number;
  user: { id: string; username: string };
}

export const DEFAULT_PASSWORD = 'correct horse battery';

export interface StartOptions {
  /** Share a redis-server with other harnesses in the file (not stopped by stop()). */
  redis?: TestRedis;
  /** Files for a FRONTEND_DIR of the test's own; without it FRONTEND_DIR does not exist. */
  frontendFiles?: Record<string, string>;
}

export async function startUsers(env: Record<string, string> = {}, opts: StartOptions = {}): Promise<UsersHarness> {
  const redis = opts.redis ?? (await startRedis());
  const dir = mkdtempSync(join(tmpdir(), 'aurora-users-'));
  const sqlitePath = join(dir, 'aurora.db');
  const frontendDir = join(dir, 'web');
  if (opts.frontendFiles) {
    mkdirSync(frontendDir);
    for (const [name, content] of Object.entries(opts.frontendFiles)) writeFileSync(join(frontendDir, name), content);
  }
  const svc = await startService('users', {
    REDIS_URL: redis.url,
    SQLITE_PATH: sqlitePath,
    BCRYPT_COST: '4',
    JWT_SECRET: TEST_JWT_SECRET,
    FRONTEND_DIR: frontendDir,
    // Every test request comes from 127.0.0.1: the per-IP budgets are proven in
    // ip-limits.test.ts, elsewhere they would only cap how many accounts a file may create.
    LOGIN_MAX_PER_IP: '100000',
    REGISTER_MAX_PER_IP: '100000',
    ...env,
  });
  const responses: RecordedResponse[] = [];

  const request = async <T = any>(base: string, method: string, path: string, o: CallOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(base + path, { method, headers, body });
    const text = await res.text();
    const rec = { method, path, status: res.status, headers: res.headers, text };
    responses.push(rec);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { ...rec, json: json as T };
  };
  const call = <T = any>(method: string, path: string, o: CallOptions = {}) => request<T>(svc.baseUrl, method, path, o);

  const harness: UsersHarness = {
    redis,
    svc,
    dir,
    sqlitePath,
    responses,
    call,
    admin: (path) => request(svc.adminUrl, 'GET', path),
    async register(username, password = DEFAULT_PASSWORD) {
      const res = await call('POST', '/api/auth/register', { body: { username, password } });
      if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${res.text}`);
      return res.json.user;
    },
    async login(username, password = DEFAULT_PASSWORD) {
      const res = await call<LoginBody>('POST', '/api/auth/login', { body: { username, password } });
      if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${res.text}`);
      return res.json;
    },
    backdateSpentRefreshToken(refreshToken, seconds) {
      const db = new Database(sqlitePath);
      try {
        const tokenHash = createHash('sha256').update(refreshToken, 'utf8').digest('hex');
        const r = db
          .prepare('UPDATE refresh_tokens SET used_at = used_at - ? WHERE token_hash = ? AND used_at IS NOT NULL')
          .run(seconds * 1000, tokenHash);
        if (r.changes !== 1) throw new Error('backdateSpentRefreshToken: no spent token with that value');
      } finally {
        db.close();
      }
    },
    async stop() {
      await svc.stop();
      if (!opts.redis) await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Asserts the `{"error":{"code","message"}}` shape and returns the code. */
export function errorCode(res: RecordedResponse & { json: any }): string {
  const ct = res.headers.get('content-type') ?? '';
  if (!ct.startsWith('application/json')) throw new Error(`error response is ${ct}: ${res.text.slice(0, 200)}`);
  const e = res.json?.error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string' || Object.keys(res.json).length !== 1) {
    throw new Error(`not an error body: ${res.text.slice(0, 200)}`);
  }
  return e.code;
}
