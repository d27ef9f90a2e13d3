// The operational and browser-facing side of the users service: health, readiness through a
// Redis outage, metrics, the static client with its security headers, /config.json, CORS,
// start-up refusals and a graceful SIGTERM.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysFor } from '../../services/shared/keys.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { DEFAULT_PASSWORD, errorCode, startUsers, type UsersHarness } from './harness.js';

// connect-src: the page itself and the chat origin /config.json derives from the Host used here
// (PUBLIC_WS_URL unset: ws://<host>:8080), nothing else (services/users/web.ts).
const CSP =
  "default-src 'self'; connect-src 'self' ws://127.0.0.1:8080; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

let redis: TestRedis;
let h: UsersHarness;

beforeAll(async () => {
  redis = await startRedis();
  // A client directory of the test's own (frontend/ belongs to the client's authors).
  h = await startUsers(
    {},
    {
      redis,
      frontendFiles: {
        'index.html': '<!doctype html><title>AuroraChat test page</title>',
        'app.js': 'export const hello = 1;',
        '.env': 'SECRET=1',
      },
    },
  );
});
afterAll(async () => {
  await h?.stop();
  await redis?.stop();
});

/** A raw GET with a Host header of our choosing (fetch does not allow setting Host). */
function getWithHost(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('health, readiness and metrics', () => {
  it('/healthz answers 200 and /readyz 200 with the redis and store checks', async () => {
    expect((await h.call('GET', '/healthz')).status).toBe(200);
    const ready = await h.admin('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ready', checks: { redis: 'ok', store: 'ok' } });
  });

  it('serves /readyz and /metrics on the admin port only; /healthz on both', async () => {
    expect(h.svc.adminPort).not.toBe(h.svc.port);
    expect((await h.admin('/healthz')).json).toEqual({ status: 'ok' });
    for (const path of ['/readyz', '/metrics']) {
      const main = await h.call('GET', path);
      expect(main.status, `main port ${path}`).toBe(404);
      expect(main.text, `main port ${path}`).not.toMatch(/aurora_|checks/);
    }
    // the admin port is not the API: nothing else answers there
    expect((await h.admin('/api/openapi.json')).status).toBe(404);
    expect((await h.admin('/')).status).toBe(404);
  });

  it('/metrics exposes request counts and durations by route pattern and status, and auth events', async () => {
    await h.call('POST', '/api/auth/login', { body: { username: 'nobody', password: 'whatever-pw' } });
    await h.call('GET', '/api/rooms/general/messages');
    const res = await h.admin('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/aurora_users_http_requests_total\{[^}]*method="POST"[^}]*route="\/api\/auth\/login"[^}]*status="401"[^}]*\} 1/);
    expect(res.text).toMatch(/aurora_users_http_request_duration_seconds_bucket\{[^}]*route="\/api\/rooms\/:room\/messages"[^}]*status="401"/);
    expect(res.text).toMatch(/aurora_users_auth_events_total\{[^}]*event="login_failed"[^}]*\} 1/);
    expect(res.text).toMatch(/process_cpu_seconds_total\{[^}]*service="users"/);
    // Route patterns only: no raw paths or query strings become label values.
    expect(res.text).not.toContain('route="/api/rooms/general/messages"');
  });

  it('/readyz turns 503 when Redis dies and 200 again after it restarts; login fails closed meanwhile', async () => {
    await redis.kill();
    const down = await waitFor(
      async () => {
        const r = await h.admin('/readyz');
        return r.status === 503 ? r : null;
      },
      { timeoutMs: 15_000, what: '/readyz 503' },
    );
    expect(down.json.status).toBe('unready');
    expect(down.json.checks.redis).not.toBe('ok');
    expect(down.json.checks.store).toBe('ok');
    // Without the throttle a login would be unthrottled brute force: 503, not a pass.
    const login = await h.call('POST', '/api/auth/login', { body: { username: 'someone', password: 'whatever-pw' } });
    expect(login.status).toBe(503);
    expect(errorCode(login)).toBe('unavailable');

    await redis.start();
    await waitFor(async () => (await h.admin('/readyz')).status === 200, { timeoutMs: 20_000, what: '/readyz 200 again' });
    await h.register('after_outage');
    expect((await h.call('POST', '/api/auth/login', { body: { username: 'after_outage', password: DEFAULT_PASSWORD } })).status).toBe(200);
  });
});

describe('the static client', () => {
  it('serves index.html for / with the CSP, nosniff and no-referrer headers', async () => {
    const res = await h.call('GET', '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.text).toContain('AuroraChat test page');
    expect(res.headers.get('content-security-policy')).toBe(CSP);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('serves assets with their content type and the same headers', async () => {
    const res = await h.call('GET', '/app.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe(CSP);
  });

  it('does not serve dotfiles, missing files or paths outside the directory', async () => {
    for (const path of ['/.env', '/missing.js', '/..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/passwd']) {
      const res = await h.call('GET', path);
      expect([400, 403, 404], path).toContain(res.status);
      expect(res.text, path).not.toContain('SECRET');
      expect(res.text, path).not.toContain('root:');
      errorCode(res);
    }
  });
});

describe('/config.json', () => {
  it('derives one ws URL on port 8080 from the Host header when PUBLIC_WS_URL is empty', async () => {
    const res = await getWithHost(h.svc.port, '/config.json', { host: 'chat.example.com:4000' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ wsUrls: ['ws://chat.example.com:8080/ws'], awayAfterSec: 300 });
    const v6 = await getWithHost(h.svc.port, '/config.json', { host: '[::1]:4000' });
    expect(JSON.parse(v6.body)).toEqual({ wsUrls: ['ws://[::1]:8080/ws'], awayAfterSec: 300 });
  });

  it('ignores X-Forwarded-* without TRUST_PROXY and never echoes a junk Host', async () => {
    const fwd = await getWithHost(h.svc.port, '/config.json', {
      host: 'chat.example.com',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
    });
    expect(JSON.parse(fwd.body)).toEqual({ wsUrls: ['ws://chat.example.com:8080/ws'], awayAfterSec: 300 });
    const junk = await getWithHost(h.svc.port, '/config.json', { host: 'a"b<script>' });
    expect(JSON.parse(junk.body)).toEqual({ wsUrls: ['ws://localhost:8080/ws'], awayAfterSec: 300 });
  });

  it('returns the PUBLIC_WS_URL list in order when set (and a production start with a strong secret works)', async () => {
    const other = await startUsers(
      {
        PUBLIC_WS_URL: 'wss://a.example/ws, wss://b.example/ws,/ws',
        NODE_ENV: 'production',
        JWT_SECRET: 'x'.repeat(48),
      },
      { redis },
    );
    try {
      const res = await other.call('GET', '/config.json');
      expect(res.json).toEqual({ wsUrls: ['wss://a.example/ws', 'wss://b.example/ws', '/ws'], awayAfterSec: 300 });
      expect(res.headers.get('cache-control')).toBe('no-store');
      // That instance's FRONTEND_DIR does not exist: / is a JSON 404, not a crash.
      const root = await other.call('GET', '/');
      expect(root.status).toBe(404);
      expect(errorCode(root)).toBe('not_found');
    } finally {
      await other.stop();
    }
  });
});

describe('CORS', () => {
  it('allows only ALLOWED_ORIGINS', async () => {
    const ok = await h.call('GET', '/config.json', { headers: { origin: 'http://localhost:4000' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:4000');
    const bad = await h.call('GET', '/config.json', { headers: { origin: 'http://evil.example' } });
    expect(bad.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers a preflight from an allowed origin with the methods and headers the API uses', async () => {
    const res = await h.call('OPTIONS', '/api/auth/login', {
      headers: {
        origin: 'http://127.0.0.1:4000',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:4000');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
  });
});

describe('start-up refusals', () => {
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', 'services/users/main.ts'], {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_PRETTY: 'false', REDIS_URL: redis.url, PORT: '0', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      // 'close', not 'exit': only then has all of stderr been read.
      proc.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr, stdout });
      });
    });

  it('NODE_ENV=production with the default or a short JWT_SECRET exits non-zero with one line naming JWT_SECRET', async () => {
    for (const env of [{ NODE_ENV: 'production' }, { NODE_ENV: 'production', JWT_SECRET: 'short-secret' }] as Record<string, string>[]) {
      const r = await run({ ...env, SQLITE_PATH: join(h.dir, 'never.db') });
      expect(r.code, JSON.stringify(env)).not.toBe(0);
      expect(r.code).not.toBeNull();
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toContain('JWT_SECRET');
      expect(r.stderr).not.toContain('short-secret');
      expect(r.stdout).toBe('');
    }
  });

  it('a bad variable stops it with one line naming the variable', async () => {
    const r = await run({ BCRYPT_COST: 'lots', SQLITE_PATH: join(h.dir, 'never.db') });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/BCRYPT_COST/);
  });

  it('an unusable store stops it with a fatal log and a non-zero exit', async () => {
    writeFileSync(join(h.dir, 'a-file'), '');
    const r = await run({ SQLITE_PATH: join(h.dir, 'a-file', 'sub', 'x.db'), NODE_ENV: 'test' });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('failed to start');
  });
});

describe('SIGTERM', () => {
  it('finishes the request in flight, closes, and exits 0', async () => {
    // A slow bcrypt cost keeps the login in flight long enough to signal in the middle of it.
    const slow = await startUsers({ BCRYPT_COST: '12' }, { redis });
    const client: Redis = redis.client();
    try {
      await slow.register('drainer');
      const inFlight = slow.call('POST', '/api/auth/login', { body: { username: 'drainer', password: DEFAULT_PASSWORD } });
      // The throttle counter is written before the password check: once it exists the
      // request is inside the service.
      const key = keysFor(1).loginFailures('drainer', '127.0.0.1');
      await waitFor(async () => (await client.exists(key)) === 1, { intervalMs: 5, what: 'login in flight' });
      const exitCode = slow.svc.stop('SIGTERM');
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(await exitCode).toBe(0);
      await waitFor(() => slow.svc.logs.some((l) => l.includes('shutdown complete')), { what: 'the last log line' });
      const log = slow.svc.logs.join('\n');
      expect(log).toContain('shutting down');
      expect(log).toContain('shutdown complete');
      expect(log).not.toContain('shutdown step failed');
      await expect(fetch(`${slow.svc.baseUrl}/healthz`)).rejects.toThrow();
    } finally {
      await slow.stop();
    }
  }, 60_000);
});
