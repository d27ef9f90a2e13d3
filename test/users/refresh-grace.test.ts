// The refresh-token reuse grace window (REFRESH_REUSE_GRACE_SEC, default 30): a refresh whose
// response was lost, two browser tabs refreshing with the one token they share in
// localStorage, or a rotation whose successor failed to save must not log the user out.
// Re-presenting a token spent less than the window ago ONCE yields the same successor pair as
// its first rotation (idempotent: the family never forks) and revokes nothing; a second
// re-presentation, or one after the window, revokes the family and ends the session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, startUsers, type LoginBody, type UsersHarness } from './harness.js';

let h: UsersHarness;

beforeAll(async () => {
  // No REFRESH_REUSE_GRACE_SEC: the default (30 s) is what is tested.
  h = await startUsers();
});
afterAll(async () => {
  await h?.stop();
});

const refresh = (harness: UsersHarness, refreshToken: string) =>
  harness.call<LoginBody>('POST', '/api/auth/refresh', { body: { refreshToken } });

describe('refresh reuse within the grace window', () => {
  it('a refresh whose response was lost can be retried: the SAME pair again, working, and nothing is revoked', async () => {
    const user = await h.register('lost_response');
    const login = await h.login('lost_response');
    const lost = await refresh(h, login.refreshToken); // the client never saw this answer
    expect(lost.status).toBe(200);

    const retry = await refresh(h, login.refreshToken);
    expect(retry.status, retry.text).toBe(200);
    expect(retry.json.user).toEqual({ id: user.id, username: 'lost_response' });
    // Idempotent: byte-identical tokens, so the family never forks.
    expect(retry.json.refreshToken).toBe(lost.json.refreshToken);
    expect(retry.json.token).toBe(lost.json.token);
    expect(retry.json.refreshToken).not.toBe(login.refreshToken);
    expect((await h.call('GET', '/api/me', { token: retry.json.token })).status).toBe(200);

    // The session goes on from the one successor.
    const next = await refresh(h, retry.json.refreshToken);
    expect(next.status).toBe(200);
    expect((await h.call('GET', '/api/me', { token: next.json.token })).status).toBe(200);
  });

  it('two tabs refreshing at once with one shared token both get the same working pair', async () => {
    await h.register('two_tabs');
    const login = await h.login('two_tabs');
    const [a, b] = await Promise.all([refresh(h, login.refreshToken), refresh(h, login.refreshToken)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.json.refreshToken).toBe(b.json.refreshToken);
    expect(a.json.token).toBe(b.json.token);
    expect((await refresh(h, a.json.refreshToken)).status).toBe(200);
  });

  it('a second re-presentation within the window is theft: the family is revoked, its newest token and access tokens too', async () => {
    await h.register('replayed_twice');
    const login = await h.login('replayed_twice');
    const first = await refresh(h, login.refreshToken);
    const second = await refresh(h, login.refreshToken); // one retry: honoured
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await refresh(h, login.refreshToken); // a replay: nobody honest needs this
    expect(third.status).toBe(401);
    expect(errorCode(third)).toBe('invalid_refresh_token');
    const newest = await refresh(h, first.json.refreshToken);
    expect(newest.status).toBe(401);
    // The session's access tokens stop working at once, not when they expire.
    const me = await h.call('GET', '/api/me', { token: first.json.token });
    expect(me.status).toBe(401);
    expect((await h.call('GET', '/api/me', { token: login.token })).status).toBe(401);
  });

  it('the grace pair stays in the same family: logging out with one ends the other', async () => {
    await h.register('same_family');
    const login = await h.login('same_family');
    const first = await refresh(h, login.refreshToken);
    const second = await refresh(h, login.refreshToken);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect((await h.call('POST', '/api/auth/logout', { body: { refreshToken: second.json.refreshToken } })).status).toBe(204);
    expect((await h.call('GET', '/api/me', { token: first.json.token })).status).toBe(401);
    const after = await refresh(h, first.json.refreshToken);
    expect(after.status).toBe(401);
    expect(errorCode(after)).toBe('invalid_refresh_token');
  });

  it('does not bring back a logged-out session', async () => {
    await h.register('logged_out');
    const login = await h.login('logged_out');
    expect((await refresh(h, login.refreshToken)).status).toBe(200);
    expect((await h.call('POST', '/api/auth/logout', { body: { refreshToken: login.refreshToken } })).status).toBe(204);
    const res = await refresh(h, login.refreshToken);
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('invalid_refresh_token');
  });
});

describe('refresh reuse after the grace window', () => {
  it('a token spent longer ago than the window is refused and revokes its family, newest token included', async () => {
    await h.register('late_replay');
    const login = await h.login('late_replay');
    const rotated = await refresh(h, login.refreshToken);
    expect(rotated.status).toBe(200);
    h.backdateSpentRefreshToken(login.refreshToken, 31);

    const replay = await refresh(h, login.refreshToken);
    expect(replay.status).toBe(401);
    expect(errorCode(replay)).toBe('invalid_refresh_token');
    const newest = await refresh(h, rotated.json.refreshToken);
    expect(newest.status).toBe(401);
    expect(errorCode(newest)).toBe('invalid_refresh_token');
  });

  it('the window is measured from when the token was spent: 29 s ago still passes', async () => {
    await h.register('almost_late');
    const login = await h.login('almost_late');
    expect((await refresh(h, login.refreshToken)).status).toBe(200);
    h.backdateSpentRefreshToken(login.refreshToken, 29);
    expect((await refresh(h, login.refreshToken)).status).toBe(200);
  });
});

describe('REFRESH_REUSE_GRACE_SEC=0', () => {
  let strict: UsersHarness;
  beforeAll(async () => {
    strict = await startUsers({ REFRESH_REUSE_GRACE_SEC: '0' }, { redis: h.redis });
  });
  afterAll(async () => {
    await strict?.stop();
  });

  it('turns the window off: of two concurrent refreshes exactly one succeeds and an immediate replay revokes the family', async () => {
    await strict.register('strict_user');
    const login = await strict.login('strict_user');
    const [a, b] = await Promise.all([refresh(strict, login.refreshToken), refresh(strict, login.refreshToken)]);
    expect([a.status, b.status].sort()).toEqual([200, 401]);
    const winner = a.status === 200 ? a : b;
    expect((await refresh(strict, winner.json.refreshToken)).status).toBe(401);
  });
});
