// The WebSocket handshake of a chat replica: authentication happens before any socket exists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAccessToken } from '../../services/shared/tokens.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/ports.js';
import { startService, type RunningService } from '../helpers/service.js';
import { JWT_SECRET, ORIGIN, TestClient, chatEnv, expectRejected, tokenFor } from './client.js';

let redis: TestRedis;
let chat: RunningService;
let wsUrl: string;

beforeAll(async () => {
  redis = await startRedis();
  chat = await startService('chat', chatEnv(redis.url, 'hs-a', { MAX_CONNECTIONS_PER_USER: '2', LOG_LEVEL: 'debug' }));
  wsUrl = chat.baseUrl.replace('http', 'ws') + '/ws';
});
afterAll(async () => {
  await chat?.stop();
  await redis?.stop();
});

const connectionCount = async () => {
  const text = await (await fetch(chat.adminUrl + '/metrics')).text();
  return Number(/^aurora_chat_connections\{[^}]*\} (\d+)/m.exec(text)?.[1]);
};

describe('chat handshake', () => {
  it('selects aurora.v1 (never the token) and greets with hello', async () => {
    const c = await TestClient.connect(chat.baseUrl, tokenFor('alice'));
    expect(c.ws.protocol).toBe('aurora.v1');
    expect(c.frames[0]).toEqual({ type: 'hello', user: { id: 'alice', name: 'alice' }, replica: 'hs-a', heartbeatMs: 30000 });
    await c.close();
  });

  it('selects aurora.v1 even when the token is offered first', async () => {
    const c = await TestClient.connect(chat.baseUrl, '', { protocols: [`bearer.${tokenFor('alice')}`, 'aurora.v1'] });
    expect(c.ws.protocol).toBe('aurora.v1');
    await c.close();
  });

  it('refuses a missing, invalid, wrongly signed or expired token with 401', async () => {
    const h = { origin: ORIGIN };
    expect(await expectRejected(wsUrl, ['aurora.v1'], h)).toBe(401);
    expect(await expectRejected(wsUrl, [], h)).toBe(401);
    expect(await expectRejected(wsUrl, ['aurora.v1', 'bearer.not-a-jwt'], h)).toBe(401);
    const forged = signAccessToken('another-secret-entirely-0123456789', { id: 'alice', name: 'alice' }, 600).token;
    expect(await expectRejected(wsUrl, ['aurora.v1', `bearer.${forged}`], h)).toBe(401);
    const expired = signAccessToken(JWT_SECRET, { id: 'alice', name: 'alice' }, -10).token;
    expect(await expectRejected(wsUrl, ['aurora.v1', `bearer.${expired}`], h)).toBe(401);
    // a valid token without aurora.v1 is refused too: the protocol version is part of the contract
    expect(await expectRejected(wsUrl, [`bearer.${tokenFor('alice')}`], h)).toBe(401);
    // none of them reached 'connection': no socket state was ever created
    expect(await connectionCount()).toBe(0);
    const hello = chat.logs.filter((l) => l.includes('upgrade refused'));
    expect(hello.length).toBeGreaterThanOrEqual(6);
    // the token is never logged
    expect(chat.logs.join('\n')).not.toContain(forged);
  });

  it('refuses an origin outside ALLOWED_ORIGINS with 403 and allows clients that send no Origin', async () => {
    expect(await expectRejected(wsUrl, ['aurora.v1', `bearer.${tokenFor('alice')}`], { origin: 'http://evil.test' })).toBe(403);
    const noOrigin = await TestClient.connect(chat.baseUrl, tokenFor('bob'), { origin: null });
    expect(noOrigin.ws.protocol).toBe('aurora.v1');
    await noOrigin.close();
  });

  it('refuses a user over MAX_CONNECTIONS_PER_USER with 429', async () => {
    const a = await TestClient.connect(chat.baseUrl, tokenFor('carol'));
    const b = await TestClient.connect(chat.baseUrl, tokenFor('carol'));
    expect(await expectRejected(wsUrl, ['aurora.v1', `bearer.${tokenFor('carol')}`], { origin: ORIGIN })).toBe(429);
    await a.close();
    await b.close();
  });

  it('refuses upgrades past MAX_CONNECTIONS with 503', async () => {
    const small = await startService('chat', chatEnv(redis.url, 'hs-small', { MAX_CONNECTIONS: '1' }));
    try {
      const only = await TestClient.connect(small.baseUrl, tokenFor('dora'));
      const url = small.baseUrl.replace('http', 'ws') + '/ws';
      expect(await expectRejected(url, ['aurora.v1', `bearer.${tokenFor('eli')}`], { origin: ORIGIN })).toBe(503);
      await only.close();
      await waitFor(async () => {
        try {
          const again = await TestClient.connect(small.baseUrl, tokenFor('eli'));
          await again.close();
          return true;
        } catch {
          return false;
        }
      }, { what: 'a free slot after a close' });
    } finally {
      await small.stop();
    }
  });

  it('answers 404 for other upgrade paths and serves /healthz, and /readyz and /metrics on the admin port only', async () => {
    expect(await expectRejected(chat.baseUrl.replace('http', 'ws') + '/other', ['aurora.v1', `bearer.${tokenFor('x')}`])).toBe(404);
    expect((await fetch(chat.baseUrl + '/healthz')).status).toBe(200);
    // ready once its own pub/sub probe came back
    await waitFor(async () => (await fetch(chat.adminUrl + '/readyz')).status === 200, { what: '/readyz 200' });
    for (const path of ['/readyz', '/metrics']) expect((await fetch(chat.baseUrl + path)).status, `main port ${path}`).toBe(404);
    expect(await expectRejected(chat.adminUrl.replace('http', 'ws') + '/ws', ['aurora.v1', `bearer.${tokenFor('x')}`]), 'no WebSocket on the admin port').toBe(404);
  });
});
