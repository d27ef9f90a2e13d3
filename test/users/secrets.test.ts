// No secret leaks: through a whole register -> login -> refresh -> me -> logout flow (plus the
// failure paths around it) at LOG_LEVEL=trace, no response and no log line carries a
// password or a bcrypt hash, logs carry no token, and a token appears only in the one response
// that issued it. The database holds refresh tokens only as hashes.
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { startUsers, TEST_JWT_SECRET, type RecordedResponse, type UsersHarness } from './harness.js';

let h: UsersHarness;
const PASSWORD = 'Tr0ub4dor&3-unique-password';
const WRONG = 'Wr0ng-unique-guess-password';
const issued: { token: string; by: RecordedResponse }[] = [];
let logs: string[] = [];

beforeAll(async () => {
  h = await startUsers({ LOG_LEVEL: 'trace' });
  const track = (res: RecordedResponse & { json: any }) => {
    const recorded = h.responses[h.responses.length - 1]!;
    for (const t of [res.json?.token, res.json?.refreshToken]) if (typeof t === 'string') issued.push({ token: t, by: recorded });
    return res;
  };

  const reg = await h.call('POST', '/api/auth/register', { body: { username: 'secretive', password: PASSWORD } });
  expect(reg.status).toBe(201);
  expect((await h.call('POST', '/api/auth/register', { body: { username: 'SECRETIVE', password: PASSWORD } })).status).toBe(409);
  expect((await h.call('POST', '/api/auth/login', { body: { username: 'secretive', password: WRONG } })).status).toBe(401);
  expect((await h.call('POST', '/api/auth/login', { body: { username: 'ghost', password: PASSWORD } })).status).toBe(401);
  // Bodies the parser rejects, with the password inside them.
  expect((await h.call('POST', '/api/auth/login', { body: `{"username":"secretive","password":"${PASSWORD}"` })).status).toBe(400);
  expect((await h.call('POST', '/api/auth/login', { body: { username: 'secretive', password: PASSWORD, pad: 'x'.repeat(20_000) } })).status).toBe(413);
  expect((await h.call('POST', '/api/auth/register', { body: { username: 'x', password: PASSWORD } })).status).toBe(400);

  const login = track(await h.call('POST', '/api/auth/login', { body: { username: 'secretive', password: PASSWORD } }));
  expect(login.status).toBe(200);
  const me = await h.call('GET', '/api/me', { token: login.json.token });
  expect(me.status).toBe(200);
  const refreshed = track(await h.call('POST', '/api/auth/refresh', { body: { refreshToken: login.json.refreshToken } }));
  expect(refreshed.status).toBe(200);
  // A retry of that refresh within the reuse grace window (the same pair, logged without tokens),
  // then reuse of the spent token past the window (revokes the family), a token in a query
  // string, a bad token.
  const retried = track(await h.call('POST', '/api/auth/refresh', { body: { refreshToken: login.json.refreshToken } }));
  expect(retried.status).toBe(200);
  expect((await h.call('GET', `/api/rooms?token=${refreshed.json.token}`, { token: refreshed.json.token })).status).toBe(200);
  expect((await h.call('GET', '/api/me', { token: `${refreshed.json.token}x` })).status).toBe(401);
  expect((await h.call('GET', '/api/nowhere', { token: refreshed.json.token })).status).toBe(404);
  expect((await h.call('GET', '/api/me', { token: refreshed.json.token })).status).toBe(200);
  h.backdateSpentRefreshToken(login.json.refreshToken, 3600);
  expect((await h.call('POST', '/api/auth/refresh', { body: { refreshToken: login.json.refreshToken } })).status).toBe(401);
  // Theft detected: the session is over, its access token too.
  expect((await h.call('GET', '/api/me', { token: refreshed.json.token })).status).toBe(401);
  const login2 = track(await h.call('POST', '/api/auth/login', { body: { username: 'secretive', password: PASSWORD } }));
  expect((await h.call('POST', '/api/auth/logout', { body: { refreshToken: login2.json.refreshToken } })).status).toBe(204);
  expect((await h.call('POST', '/api/auth/refresh', { body: { refreshToken: login2.json.refreshToken } })).status).toBe(401);

  expect(await h.svc.stop()).toBe(0);
  // 'exit' can come before the last piped lines: wait for the final one.
  await waitFor(() => h.svc.logs.some((l) => l.includes('shutdown complete')), { what: 'the last log line' });
  logs = [...h.svc.logs];
});
afterAll(async () => {
  await h?.stop();
});

const dump = (r: RecordedResponse) => `${[...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${r.text}`;

describe('secrets', () => {
  it('the flow really happened: tokens were issued and logs were written', () => {
    expect(issued.length).toBe(8); // login, refresh, grace retry, one more login: token + refresh token each
    expect(logs.length).toBeGreaterThan(15);
    expect(logs.some((l) => l.includes('/api/auth/refresh'))).toBe(true);
  });

  it('no response carries a password or a bcrypt hash', () => {
    for (const r of h.responses) {
      const all = dump(r);
      for (const secret of [PASSWORD, WRONG]) expect(all, `${r.method} ${r.path}`).not.toContain(secret);
      expect(all, `${r.method} ${r.path}`).not.toMatch(/\$2[aby]\$/);
    }
  });

  it('a token appears only in the response that issued it', () => {
    for (const r of h.responses) {
      const all = dump(r);
      // (Two logins within one second may be handed the same access token: same claims.)
      for (const { token } of issued) {
        if (issued.some((i) => i.token === token && i.by === r)) continue;
        expect(all, `${r.method} ${r.path}`).not.toContain(token);
      }
    }
  });

  it('no log line carries a password, a bcrypt hash, a token or the JWT secret', () => {
    for (const line of logs) {
      for (const secret of [PASSWORD, WRONG, TEST_JWT_SECRET, ...issued.map((i) => i.token)]) expect(line).not.toContain(secret);
      expect(line).not.toMatch(/\$2[aby]\$/);
      // Nor any JWT-looking string at all (e.g. the tampered one).
      expect(line).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
    }
  });

  it('logs each request with method, route, status and duration only', () => {
    const requestLines = logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requestLines.length).toBe(h.responses.length);
    for (const l of requestLines) {
      expect(Object.keys(l).sort()).toEqual(['level', 'method', 'ms', 'msg', 'replica', 'route', 'service', 'status', 'time']);
    }
  });

  it('the database stores refresh tokens only as sha256 hashes, and no password', () => {
    const files = [h.sqlitePath, `${h.sqlitePath}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1'));
    const db = files.join('\n');
    expect(db.length).toBeGreaterThan(0);
    const refreshTokens = issued.filter((i) => /^[A-Za-z0-9_-]{43}$/.test(i.token)).map((i) => i.token);
    expect(refreshTokens).toHaveLength(4);
    for (const t of refreshTokens) {
      expect(db).not.toContain(t);
      expect(db).toContain(createHash('sha256').update(t).digest('hex'));
    }
    expect(db).not.toContain(PASSWORD);
  });
});
