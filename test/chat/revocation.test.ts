// Logout and refresh-token theft end the session NOW: its sockets on every chat replica close
// with 4001, its access tokens are refused at the handshake and by REST although they have not
// expired, and the user's other sessions stay. Real users + two chat processes + Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysFor } from '../../services/shared/keys.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { startUsers, TEST_JWT_SECRET, type LoginBody, type UsersHarness } from '../users/harness.js';
import { chatEnv, expectRejected, ORIGIN, TestClient } from './client.js';
import { waitFor } from '../helpers/ports.js';

let redis: TestRedis;
let users: UsersHarness;
let chats: RunningService[] = [];
const open: TestClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  users = await startUsers({}, { redis });
  chats = await Promise.all(
    ['rev-a', 'rev-b'].map((id) => startService('chat', chatEnv(redis.url, id, { JWT_SECRET: TEST_JWT_SECRET }), { waitReady: true })),
  );
});
afterAll(async () => {
  for (const c of open) await c.close().catch(() => {});
  await Promise.all(chats.map((c) => c.stop()));
  await users?.stop();
  await redis?.stop();
});

const connect = async (i: number, token: string) => {
  const c = await TestClient.connect(chats[i]!.baseUrl, token);
  open.push(c);
  return c;
};
const wsUrl = (i: number) => chats[i]!.baseUrl.replace(/^http/, 'ws') + '/ws';

describe('session revocation', { timeout: 60_000 }, () => {
  it('logout closes that session’s sockets on every replica with 4001 within a second; the other session stays', async () => {
    await users.register('two_devices');
    const laptop = await users.login('two_devices');
    const phone = await users.login('two_devices');
    const laptopA = await connect(0, laptop.token);
    const laptopB = await connect(1, laptop.token);
    const phoneA = await connect(0, phone.token);
    await laptopA.join('general');

    const started = Date.now();
    expect((await users.call('POST', '/api/auth/logout', { body: { refreshToken: laptop.refreshToken } })).status).toBe(204);
    expect(await laptopA.closed).toBe(4001);
    expect(await laptopB.closed).toBe(4001);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(laptopA.closeReason).toBe('session ended');

    // The other device is untouched and still chats.
    expect(phoneA.closeCode).toBeNull();
    await phoneA.join('general');
    expect((await phoneA.sendText('general', 'still here', 'c-phone')).type).toBe('ack');

    // The logged-out access token has not expired, but it opens nothing any more.
    expect(await expectRejected(wsUrl(1), ['aurora.v1', `bearer.${laptop.token}`], { origin: ORIGIN })).toBe(401);
    expect((await users.call('GET', '/api/me', { token: laptop.token })).status).toBe(401);
    expect((await users.call('GET', '/api/me', { token: phone.token })).status).toBe(200);
  });

  it('refresh-token theft detection closes the family’s sockets too', async () => {
    await users.register('stolen');
    const login = await users.login('stolen');
    const sock = await connect(1, login.token);
    const refresh = (t: string) => users.call<LoginBody>('POST', '/api/auth/refresh', { body: { refreshToken: t } });
    expect((await refresh(login.refreshToken)).status).toBe(200);
    expect((await refresh(login.refreshToken)).status).toBe(200); // one retry: honoured
    expect((await refresh(login.refreshToken)).status).toBe(401); // a replay: the family is revoked
    expect(await sock.closed).toBe(4001);
  });

  it('a revocation published while a replica’s subscriber was down is found when it re-subscribes', async () => {
    await users.register('missed');
    const login = await users.login('missed');
    const sock = await connect(0, login.token);
    const sid = JSON.parse(Buffer.from(login.token.split('.')[1]!, 'base64url').toString()).sid as string;
    const keys = keysFor(1);
    const client = redis.client();
    // The record without the publish: what a replica whose subscriber was reconnecting sees.
    await client.set(keys.revokedSession(sid), '1', 'EX', 600);
    await new Promise((r) => setTimeout(r, 300));
    expect(sock.closeCode).toBeNull();
    await client.client('KILL', 'TYPE', 'pubsub'); // both replicas' subscribers reconnect
    await waitFor(() => sock.closeCode === 4001, { timeoutMs: 10_000, what: 'socket closed after the re-subscribe re-check' });
  });

  it('in-band auth with a token of a revoked session is refused', async () => {
    await users.register('reauth');
    const a = await users.login('reauth');
    const b = await users.login('reauth');
    const sock = await connect(0, b.token);
    await users.call('POST', '/api/auth/logout', { body: { refreshToken: a.refreshToken } });
    sock.send({ type: 'auth', token: a.token });
    const err = await sock.next('error');
    expect(err.message).toMatch(/session has ended/);
    expect(sock.closeCode).toBeNull();
  });
});
