// ChatKet's flood control (auto-mute.ts): a member who keeps sending past a room's rate limit is
// muted there for AUTO_MUTE_SEC by the system user — every member sees the `muted` event, the
// flooder's sends are refused `muted` with the time left — while DMs are never muted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dmRoomName } from '../../services/shared/rooms.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { TestClient, chatEnv, tokenFor } from './client.js';

let redis: TestRedis;
let s: RunningService;
const clients: TestClient[] = [];

async function connect(user: string): Promise<TestClient> {
  const c = await TestClient.connect(s.baseUrl, tokenFor(user));
  clients.push(c);
  return c;
}

beforeAll(async () => {
  redis = await startRedis();
  s = await startService(
    'chat',
    chatEnv(redis.url, 'automute', { RATE_LIMIT_MESSAGES: '2', RATE_LIMIT_WINDOW_MS: '60000', AUTO_MUTE_AFTER: '3', AUTO_MUTE_SEC: '120', MAX_FRAMES_PER_SEC: '1000' }),
  );
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await s?.stop('SIGKILL');
  await redis?.stop();
});

describe('automatic mute', () => {
  it('mutes a member after AUTO_MUTE_AFTER rate-limited sends in a minute, visibly to all, and refuses their sends with muted', async () => {
    const flooder = await connect('flooder');
    const watcher = await connect('watcher');
    await flooder.join('lobby');
    await watcher.join('lobby');
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = await flooder.sendText('lobby', `spam ${i}`, `s${i}`);
      outcomes.push(f.type === 'ack' ? 'ack' : f.code);
    }
    // 2 accepted, then refused by the rate limit; the 3rd refusal mutes
    expect(outcomes.slice(0, 2)).toEqual(['ack', 'ack']);
    expect(outcomes.slice(2, 5).every((o) => o === 'rate_limited' || o === 'muted')).toBe(true);
    const ev = await watcher.find('event', (f) => f.kind === 'member' && f.action === 'muted');
    expect(ev).toMatchObject({ user: { id: 'aurora', name: 'AuroraChat' }, member: { id: 'flooder' }, role: 'member' });
    expect(ev.mutedUntil).toBeGreaterThan(Date.now() + 100_000);
    const after = await flooder.sendText('lobby', 'let me talk', 'after');
    expect(after).toMatchObject({ type: 'error', code: 'muted' });
    expect(after.retryAfterMs).toBeGreaterThan(100_000);
    // only that room: the flooder can still write elsewhere
    await flooder.join('elsewhere');
    expect((await flooder.sendText('elsewhere', 'hi', 'e1')).type).toBe('ack');
  });

  it('never mutes in a DM', async () => {
    const a = await connect('dm-a');
    const dm = dmRoomName('dm-a', 'dm-b');
    await a.join(dm);
    for (let i = 0; i < 8; i++) await a.sendText(dm, `x${i}`, `d${i}`);
    expect(a.all('error', (f) => f.code === 'muted')).toEqual([]);
    expect(a.all('error', (f) => f.code === 'rate_limited').length).toBe(6);
  });
});
