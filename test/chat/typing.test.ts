// Typing indicators throttled per USER per room over all the user's sockets and replicas
// (services/chat/typing.ts, lua/typing.lua), and dropped in rooms over PRESENCE_EVENTS_MAX_MEMBERS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { TestClient, chatEnv, tokenFor } from './client.js';

let redis: TestRedis;
let a: RunningService;
let b: RunningService;
const clients: TestClient[] = [];

async function connect(s: RunningService, user: string): Promise<TestClient> {
  const c = await TestClient.connect(s.baseUrl, tokenFor(user));
  clients.push(c);
  return c;
}

beforeAll(async () => {
  redis = await startRedis();
  // events cap 3: the 5-socket typist (one presence entry per replica: 2) and the watcher fit
  const env = (id: string) => chatEnv(redis.url, id, { PRESENCE_EVENTS_MAX_MEMBERS: '3', MAX_FRAMES_PER_SEC: '1000' });
  [a, b] = await Promise.all([startService('chat', env('typing-a')), startService('chat', env('typing-b'))]);
}, 30_000);
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
  await redis?.stop();
});

describe('typing', () => {
  it('a user with 5 sockets on two replicas alternating typing true/false from all of them reaches another member at most about once a second', async () => {
    const tabs = await Promise.all([a, b, a, b, a].map((s) => connect(s, 'five-tabs')));
    const watcher = await connect(a, 'typing-watcher');
    for (const t of tabs) await t.join('typing-many');
    await watcher.join('typing-many');
    const started = Date.now();
    for (let i = 0; i < 40; i++) {
      tabs.forEach((t, j) => t.send({ type: 'typing', room: 'typing-many', active: (i + j) % 2 === 0 }));
      await new Promise((res) => setTimeout(res, 50));
    }
    const elapsed = Date.now() - started;
    // no event marks "every trailing update is out": counted over the flood plus 1.5 s after it
    const settle = Date.now() + 1_500;
    await waitFor(() => Date.now() > settle, { what: 'trailing typing updates', timeoutMs: 5_000 });
    const frames = watcher.all('typing', (f) => f.room === 'typing-many');
    expect(frames.length).toBeGreaterThan(0);
    // one per second of flooding (per user, whatever the number of sockets), plus the trailing ones
    const seconds = (elapsed + 1_500) / 1000;
    expect(frames.length, `${frames.length} typing frames in ${seconds} s`).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    for (const t of tabs) expect(t.all('error')).toHaveLength(0);
  }, 30_000);

  it('typing in a room with more members than PRESENCE_EVENTS_MAX_MEMBERS reaches nobody', async () => {
    const members = await Promise.all(['big-1', 'big-2', 'big-3', 'big-4'].map((u, i) => connect(i % 2 ? a : b, u)));
    for (const m of members) await m.join('typing-big');
    const [typist, ...others] = members as [TestClient, ...TestClient[]];
    typist.send({ type: 'typing', room: 'typing-big', active: true });
    await new Promise((res) => setTimeout(res, 1_200));
    typist.send({ type: 'typing', room: 'typing-big', active: false });
    // frames of one socket are handled in order and the room channel keeps it: once this
    // message arrived everywhere, any typing frame that was published has arrived too
    await typist.sendText('typing-big', 'sync', 'typing-big-sync');
    for (const o of others) await o.find('message', (f) => f.cid === 'typing-big-sync');
    for (const o of others) expect(o.all('typing')).toHaveLength(0);
    expect(typist.all('error')).toHaveLength(0);
  }, 20_000);

  it('in a small room the latest typing state still arrives', async () => {
    const typist = await connect(a, 'small-typist');
    const watcher = await connect(b, 'small-watcher');
    await typist.join('typing-small');
    await watcher.join('typing-small');
    typist.send({ type: 'typing', room: 'typing-small', active: true });
    await watcher.find('typing', (f) => f.room === 'typing-small' && f.active === true && f.user.id === 'small-typist');
    typist.send({ type: 'typing', room: 'typing-small', active: false });
    await watcher.find('typing', (f) => f.room === 'typing-small' && f.active === false, 5_000);
  });
});
