// Accounts and sessions against the real users service: register, login, access tokens,
// refresh rotation with reuse detection, logout, and timing-safe failures. (Reuse within the
// grace window, REFRESH_REUSE_GRACE_SEC: refresh-grace.test.ts.)
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAccessToken, verifyAccessToken } from '../../services/shared/tokens.js';
import { DEFAULT_PASSWORD, errorCode, startUsers, TEST_JWT_SECRET, type UsersHarness } from './harness.js';

let h: UsersHarness;

beforeAll(async () => {
  h = await startUsers({ ACCESS_TOKEN_TTL_SEC: '600' });
});
afterAll(async () => {
  await h?.stop();
});

describe('register', () => {
  it('creates a user and answers 201 with only its id and username', async () => {
    const res = await h.call('POST', '/api/auth/register', { body: { username: 'Alice', password: DEFAULT_PASSWORD } });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ user: { id: expect.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), username: 'Alice' } });
  });

  it('refuses a username that differs only in case with 409 username_taken', async () => {
    await h.register('Bob.b');
    for (const username of ['Bob.b', 'bob.b', 'BOB.B']) {
      const res = await h.call('POST', '/api/auth/register', { body: { username, password: 'another-password' } });
      expect(res.status).toBe(409);
      expect(errorCode(res)).toBe('username_taken');
    }
  });

  it('gives concurrent registrations of one name exactly one winner', async () => {
    const results = await Promise.all(
      ['race_1', 'RACE_1', 'Race_1', 'race_1'].map((username) =>
        h.call('POST', '/api/auth/register', { body: { username, password: DEFAULT_PASSWORD } }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
  });
});

describe('login', () => {
  it('returns token, refreshToken, expiresIn and user, whatever the case of the username', async () => {
    const user = await h.register('carol');
    const res = await h.call('POST', '/api/auth/login', { body: { username: 'CaRoL', password: DEFAULT_PASSWORD } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      token: expect.any(String),
      refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expiresIn: expect.any(Number),
      user: { id: user.id, username: 'carol' },
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.json.expiresIn).toBeGreaterThan(590);
    expect(res.json.expiresIn).toBeLessThanOrEqual(600);
  });

  it('issues an HS256 JWT with sub = user id, name = username, sid = the session, iss/aud and exp = now + ACCESS_TOKEN_TTL_SEC', async () => {
    const user = await h.register('dave');
    const { token } = await h.login('dave');
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
    expect(header.alg).toBe('HS256');
    const verified = verifyAccessToken(TEST_JWT_SECRET, token);
    expect(verified).toEqual({ ok: true, user: { id: user.id, name: 'dave' }, exp: expect.any(Number), sid: expect.stringMatching(/^[\w-]{22}$/) });
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(payload).toMatchObject({ iss: 'aurorachat', aud: 'aurorachat' });
    // A token of another issuer or audience, right secret, is refused.
    for (const scope of [{ issuer: 'staging' }, { audience: 'another-app' }]) {
      const other = signAccessToken(TEST_JWT_SECRET, { id: user.id, name: 'dave' }, 600, scope).token;
      expect(verifyAccessToken(TEST_JWT_SECRET, other).ok).toBe(false);
      const res = await h.call('GET', '/api/me', { token: other });
      expect(res.status).toBe(401);
    }
    const exp = (verified as { exp: number }).exp;
    expect(Math.abs(exp - (Math.floor(Date.now() / 1000) + 600))).toBeLessThan(30);
  });

  it('answers a wrong password and an unknown user with the same 401 invalid_credentials', async () => {
    await h.register('erin');
    const wrong = await h.call('POST', '/api/auth/login', { body: { username: 'erin', password: 'not-the-password' } });
    const unknown = await h.call('POST', '/api/auth/login', { body: { username: 'nobody_here', password: 'not-the-password' } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(errorCode(wrong)).toBe('invalid_credentials');
    expect(wrong.text).toBe(unknown.text);
  });

  it('checks every character of a long password (bcrypt alone would ignore bytes after 72)', async () => {
    const long = 'x'.repeat(100) + 'tail-A';
    await h.register('frank', long);
    expect((await h.call('POST', '/api/auth/login', { body: { username: 'frank', password: long } })).status).toBe(200);
    const sameFirst100 = 'x'.repeat(100) + 'tail-B';
    const res = await h.call('POST', '/api/auth/login', { body: { username: 'frank', password: sameFirst100 } });
    expect(res.status).toBe(401);
  });
});

describe('GET /api/me', () => {
  it('returns the signed-in user for a valid bearer token', async () => {
    const user = await h.register('grace');
    const { token } = await h.login('grace');
    const res = await h.call('GET', '/api/me', { token });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ user: { id: user.id, username: 'grace' }, dnd: false });
  });

  it('answers 401 unauthorized without a token, with a malformed header, a forged or an alg=none token', async () => {
    const user = await h.register('heidi');
    const forged = signAccessToken('some-other-secret-of-sufficient-length!', { id: user.id, name: 'heidi' }, 600).token;
    const none = jwt.sign({ sub: user.id, name: 'heidi', exp: Math.floor(Date.now() / 1000) + 600 }, '', { algorithm: 'none' });
    const cases: Record<string, string>[] = [
      {},
      { authorization: 'Bearer' },
      { authorization: 'Basic aGVpZGk6cGFzc3dvcmQ=' },
      { authorization: 'Bearer not.a.jwt' },
      { authorization: `Bearer ${forged}` },
      { authorization: `Bearer ${none}` },
    ];
    for (const headers of cases) {
      const res = await h.call('GET', '/api/me', { headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(errorCode(res)).toBe('unauthorized');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('answers 401 token_expired for an expired token', async () => {
    const user = await h.register('ivan');
    const expired = signAccessToken(TEST_JWT_SECRET, { id: user.id, name: 'ivan' }, -30).token;
    const res = await h.call('GET', '/api/me', { token: expired });
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('token_expired');
  });
});

describe('refresh tokens', () => {
  it('rotate: each refresh returns a new pair and spends the token presented', async () => {
    const user = await h.register('judy');
    const first = await h.login('judy');
    const r1 = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: first.refreshToken } });
    expect(r1.status).toBe(200);
    expect(r1.json.user).toEqual({ id: user.id, username: 'judy' });
    expect(r1.json.refreshToken).not.toBe(first.refreshToken);
    expect(verifyAccessToken(TEST_JWT_SECRET, r1.json.token).ok).toBe(true);
    expect((await h.call('GET', '/api/me', { token: r1.json.token })).status).toBe(200);

    const r2 = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: r1.json.refreshToken } });
    expect(r2.status).toBe(200);
    expect(r2.json.refreshToken).not.toBe(r1.json.refreshToken);
  });

  it('presenting a token spent past the grace window is refused and revokes the family: the newest token stops working too', async () => {
    await h.register('mallory_victim');
    const login = await h.login('mallory_victim');
    const rotated = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: login.refreshToken } });
    expect(rotated.status).toBe(200);
    h.backdateSpentRefreshToken(login.refreshToken, 3600);

    // The spent token shows up again an hour later (a thief replays it).
    const replay = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: login.refreshToken } });
    expect(replay.status).toBe(401);
    expect(errorCode(replay)).toBe('invalid_refresh_token');

    // The legitimate newest token of that family is dead now as well.
    const newest = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: rotated.json.refreshToken } });
    expect(newest.status).toBe(401);
    expect(errorCode(newest)).toBe('invalid_refresh_token');
  });

  it('revoking one family leaves the same user\'s other sessions working', async () => {
    await h.register('two_devices');
    const laptop = await h.login('two_devices');
    const phone = await h.login('two_devices');
    await h.call('POST', '/api/auth/refresh', { body: { refreshToken: laptop.refreshToken } });
    h.backdateSpentRefreshToken(laptop.refreshToken, 3600);
    expect((await h.call('POST', '/api/auth/refresh', { body: { refreshToken: laptop.refreshToken } })).status).toBe(401);
    const res = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: phone.refreshToken } });
    expect(res.status).toBe(200);
  });

  it('answers an unknown refresh token with 401 invalid_refresh_token', async () => {
    const res = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: 'A'.repeat(43) } });
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('invalid_refresh_token');
  });
});

describe('logout', () => {
  it('answers 204, revokes the whole family, and is idempotent', async () => {
    await h.register('leaver');
    const login = await h.login('leaver');
    const rotated = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: login.refreshToken } });
    expect(rotated.status).toBe(200);

    // Logging out with the (spent) first token still ends the session it started.
    const out = await h.call('POST', '/api/auth/logout', { body: { refreshToken: login.refreshToken } });
    expect(out.status).toBe(204);
    expect(out.text).toBe('');
    const after = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: rotated.json.refreshToken } });
    expect(after.status).toBe(401);
    expect(errorCode(after)).toBe('invalid_refresh_token');

    expect((await h.call('POST', '/api/auth/logout', { body: { refreshToken: rotated.json.refreshToken } })).status).toBe(204);
    expect((await h.call('POST', '/api/auth/logout', { body: { refreshToken: 'never-issued' } })).status).toBe(204);
  });

  it('does not end the user\'s other sessions', async () => {
    await h.register('leaver2');
    const a = await h.login('leaver2');
    const b = await h.login('leaver2');
    expect((await h.call('POST', '/api/auth/logout', { body: { refreshToken: a.refreshToken } })).status).toBe(204);
    expect((await h.call('POST', '/api/auth/refresh', { body: { refreshToken: b.refreshToken } })).status).toBe(200);
  });
});

describe('timing', () => {
  // A realistic bcrypt cost so a skipped comparison would show: at cost 10 one comparison
  // takes tens of ms, a lookup miss without it well under one.
  let slow: UsersHarness;
  beforeAll(async () => {
    slow = await startUsers({ BCRYPT_COST: '10', LOGIN_MAX_FAILURES: '1000' }, { redis: h.redis });
  });
  afterAll(async () => {
    await slow?.stop();
  });

  it('an unknown username takes as long to refuse as a wrong password', async () => {
    await slow.register('timed_user');
    const time = async (username: string) => {
      const t0 = performance.now();
      const res = await slow.call('POST', '/api/auth/login', { body: { username, password: 'wrong-password' } });
      expect(res.status).toBe(401);
      return performance.now() - t0;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time('timed_user'));
      unknown.push(await time(`ghost_${i}`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const ratio = median(unknown) / median(known);
    expect(ratio, `known ${known.map(Math.round)} unknown ${unknown.map(Math.round)}`).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});
