// The attention REST routes end to end (docs/REST.md "Attention"): the real users service, a
// chat replica and an ingestion process (which runs the notify worker) on one redis-server and
// one SQLite file. Invites and DMs land in the inbox and arrive live as `notify` frames; the
// inbox pages and is marked read; a muted room notifies nothing; DND stores without pushing;
// receipts list members' positions in small rooms only; rooms are checked as history checks them;
// every bad input is a clear 400.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dmRoomName, newMembersOnlyRoom } from '../../services/shared/rooms.js';
import { TestClient } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient, type Session } from './http.js';

const JWT_SECRET = 'attention-test-secret-0123456789abcdef0';
const ORIGIN = 'http://chat.example.test';

let redis: TestRedis;
let dir: string;
let users: RunningService;
let chat: RunningService;
let worker: RunningService;

const { api, signUp } = apiClient(() => users.baseUrl);
const connect = (s: Session) => TestClient.connect(chat.baseUrl, s.token, { origin: ORIGIN });
const enc = encodeURIComponent;

interface Note {
  id: string;
  kind: string;
  room: string;
  sourceId: string;
  actor: { id: string; name: string };
  text: string;
  ts: number;
  read: boolean;
}

const inbox = async (s: Session, query = '') => {
  const r = await api<{ notifications: Note[]; unread: number }>('GET', `/api/me/notifications${query}`, undefined, s.token);
  expect(r.status).toBe(200);
  return r.json;
};
/** Waits until the inbox holds a notification about `sourceId` (the notify worker is asynchronous). */
const noteAbout = (s: Session, sourceId: string) =>
  waitFor(async () => (await inbox(s, '?limit=100')).notifications.find((n) => n.sourceId === sourceId), { timeoutMs: 15_000, what: `notification of ${sourceId}` });

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-attention-'));
  // One partition: every entry is on one stream, so the notify worker handles them in send order
  // and "a later message was notified" proves an earlier one was handled (and not notified).
  const common = {
    REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'warn', PARTITIONS: '1',
    SQLITE_PATH: join(dir, 'aurora.db'), RECEIPTS_MAX_MEMBERS: '2',
  };
  users = await startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000' });
  chat = await startService('chat', { ...common, REPLICA_ID: 'chat-a', HANDSHAKE_MAX_PER_USER: '100000', HANDSHAKE_MAX_PER_IP: '100000', SHUTDOWN_DRAIN_MS: '200' }, { waitReady: true });
  worker = await startService('ingestion', { ...common, INGEST_CONSUMER: 'w1', INGEST_BATCH_MS: '20' });
}, 90_000);

afterAll(async () => {
  await Promise.all([users, chat, worker].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('attention REST', { timeout: 60_000 }, () => {
  it('inbox: an invite and a DM arrive live and in the inbox, page newest first, and are marked read one by one or all at once', async () => {
    const ann = await signUp('ann');
    const ben = await signUp('ben');
    const bens = await connect(ben);
    const created = await api('POST', '/api/rooms', { kind: 'private', title: 'Plans', members: [ben.user.id] }, ann.token);
    expect(created.status).toBe(201);
    const room: string = created.json.room.name;

    const anns = await connect(ann);
    const dm = dmRoomName(ann.user.id, ben.user.id);
    await anns.join(dm);
    const ack = await anns.sendText(dm, 'are you there?', 'dm-1');
    expect(ack.type).toBe('ack');

    const dmNote = await noteAbout(ben, ack.id);
    const { notifications, unread } = await inbox(ben);
    expect(unread).toBe(2);
    expect(notifications).toHaveLength(2);
    const [first, second] = notifications;
    expect(first).toEqual(dmNote);
    expect(first).toMatchObject({ kind: 'dm', room: dm, sourceId: ack.id, actor: { id: ann.user.id, name: 'ann' }, text: 'are you there?', read: false });
    expect(second).toMatchObject({ kind: 'invite', room, actor: { id: ann.user.id, name: 'ann' }, read: false });
    // Live on ben's socket (he joined neither room): the same objects as the inbox.
    for (const n of notifications) expect((await bens.find('notify', (f) => f.notification.id === n.id)).notification).toEqual(n);
    // ann is told nothing about her own message.
    expect((await inbox(ann)).notifications).toEqual([]);

    // Paging: limit and before.
    const page1 = await inbox(ben, '?limit=1');
    expect(page1.notifications).toEqual([first]);
    const page2 = await inbox(ben, `?limit=1&before=${enc(first!.id)}`);
    expect(page2.notifications).toEqual([second]);
    expect((await inbox(ben, `?limit=1&before=${enc(second!.id)}`)).notifications).toEqual([]);

    // Mark one read, then all; someone else's id is ignored.
    expect(await api('POST', '/api/me/notifications/read', { ids: [first!.id] }, ann.token)).toEqual({ status: 200, json: { unread: 0 } });
    expect((await inbox(ben)).unread).toBe(2);
    expect(await api('POST', '/api/me/notifications/read', { ids: [first!.id] }, ben.token)).toEqual({ status: 200, json: { unread: 1 } });
    expect((await inbox(ben, '?unread=1')).notifications).toEqual([second]);
    expect(await api('POST', '/api/me/notifications/read', { all: true }, ben.token)).toEqual({ status: 200, json: { unread: 0 } });
    expect((await inbox(ben, '?unread=1')).notifications).toEqual([]);
    expect((await inbox(ben)).notifications.map((n) => n.read)).toEqual([true, true]);
    await Promise.all([anns.close(), bens.close()]);
  });

  it('mute and DND: a muted DM notifies nothing; in DND a DM is stored but not pushed', async () => {
    const cat = await signUp('cat');
    const dan = await signUp('dan');
    const dm = dmRoomName(cat.user.id, dan.user.id);
    const dans = await connect(dan);
    const cats = await connect(cat);
    await cats.join(dm);

    expect(await api('PATCH', `/api/me/rooms/${enc(dm)}`, { muted: true }, dan.token)).toEqual({ status: 204, json: null });
    const muted = await cats.sendText(dm, 'muted one', 'm-1');
    // Unmuted again, the next message is notified: the muted one (before it on the one stream) was handled and skipped.
    const dmRow = await waitFor(
      async () => (await api('GET', '/api/me/rooms', undefined, dan.token)).json.rooms.find((r: { name: string }) => r.name === dm) as { muted: boolean } | undefined,
      { timeoutMs: 15_000, what: 'the DM in my rooms' },
    );
    expect(dmRow.muted).toBe(true);
    expect((await api('PATCH', `/api/me/rooms/${enc(dm)}`, { muted: false }, dan.token)).status).toBe(204);
    const heard = await cats.sendText(dm, 'heard one', 'm-2');
    await noteAbout(dan, heard.id);
    expect((await inbox(dan)).notifications.map((n) => n.sourceId)).toEqual([heard.id]);
    expect((await inbox(dan)).notifications.some((n) => n.sourceId === muted.id)).toBe(false);
    await dans.find('notify', (f) => f.notification.sourceId === heard.id);

    // DND: stored, not pushed; back online: pushed again.
    expect(await api('PUT', '/api/me/status', { status: 'dnd' }, dan.token)).toEqual({ status: 204, json: null });
    const quiet = await cats.sendText(dm, 'while you were busy', 'm-3');
    await noteAbout(dan, quiet.id);
    expect((await api('PUT', '/api/me/status', { status: 'online' }, dan.token)).status).toBe(204);
    const loud = await cats.sendText(dm, 'welcome back', 'm-4');
    await dans.find('notify', (f) => f.notification.sourceId === loud.id);
    expect(dans.all('notify').map((f) => f.notification.sourceId)).toEqual([heard.id, loud.id]);
    expect((await inbox(dan)).notifications.map((n) => n.sourceId)).toEqual([loud.id, quiet.id, heard.id]);
    await Promise.all([cats.close(), dans.close()]);
  });

  it('receipts: members positions in a DM, none in a room above RECEIPTS_MAX_MEMBERS; rooms are checked as history checks them', async () => {
    const eve = await signUp('eve');
    const fay = await signUp('fay');
    const gus = await signUp('gus');
    const dm = dmRoomName(eve.user.id, fay.user.id);
    const eves = await connect(eve);
    await eves.join(dm);
    const sent = await eves.sendText(dm, 'seen?', 'r-1');
    // The sender's own message moves her position (stored by ingestion).
    const reads = await waitFor(
      async () => {
        const r = await api('GET', `/api/rooms/${enc(dm)}/reads`, undefined, fay.token);
        return r.json.reads.length > 0 ? r : undefined;
      },
      { timeoutMs: 15_000, what: 'eve read position' },
    );
    expect(reads).toEqual({ status: 200, json: { receipts: true, reads: [{ user: { id: eve.user.id, name: 'eve' }, id: sent.id, seq: sent.seq ?? expect.any(Number) }] } });

    // Three members > RECEIPTS_MAX_MEMBERS (2): no receipts.
    expect((await api('POST', '/api/rooms', { kind: 'public', name: 'crowded', members: [fay.user.id, gus.user.id] }, eve.token)).status).toBe(201);
    expect(await api('GET', '/api/rooms/crowded/reads', undefined, gus.token)).toEqual({ status: 200, json: { receipts: false, reads: [] } });

    // Someone else's DM: 403; a private room you are not in: 404, as one that does not exist.
    expect((await api('GET', `/api/rooms/${enc(dm)}/reads`, undefined, gus.token)).status).toBe(403);
    expect((await api('PATCH', `/api/me/rooms/${enc(dm)}`, { muted: true }, gus.token)).status).toBe(403);
    const priv = (await api('POST', '/api/rooms', { kind: 'private', title: 'Two of us', members: [fay.user.id] }, eve.token)).json.room.name as string;
    const ghost = newMembersOnlyRoom('private');
    const real = await api('GET', `/api/rooms/${enc(priv)}/reads`, undefined, gus.token);
    expect(real.status).toBe(404);
    expect(real).toEqual(await api('GET', `/api/rooms/${enc(ghost)}/reads`, undefined, gus.token));
    const muteReal = await api('PATCH', `/api/me/rooms/${enc(priv)}`, { muted: true }, gus.token);
    expect(muteReal.status).toBe(404);
    expect(muteReal).toEqual(await api('PATCH', `/api/me/rooms/${enc(ghost)}`, { muted: true }, gus.token));
    expect((await api('PATCH', `/api/me/rooms/${enc(priv)}`, { muted: true }, fay.token)).status).toBe(204);
    expect((await api('PATCH', '/api/me/rooms/crowded', { muted: true }, gus.token)).status).toBe(204);
    expect((await api('PATCH', '/api/me/rooms/nobody-made-this', { muted: true }, gus.token)).status).toBe(404);
    await eves.close();
  });

  it('refuses bad input with a clear 400, other methods with 405, and anonymous calls with 401', async () => {
    const hal = await signUp('hal');
    const t = hal.token;
    const code = async (method: string, path: string, body?: unknown, token: string | undefined = t) => {
      const r = await api(method, path, body, token);
      return [r.status, r.json?.error?.code];
    };
    expect(await code('PATCH', '/api/me/rooms/general', { muted: 'yes' })).toEqual([400, 'invalid_field']);
    expect(await code('PATCH', '/api/me/rooms/general', {})).toEqual([400, 'invalid_field']);
    expect(await code('PATCH', '/api/me/rooms/general', { muted: true, mute: true })).toEqual([400, 'invalid_body']);
    expect(await code('PATCH', '/api/me/rooms/general', [true])).toEqual([400, 'invalid_body']);
    expect(await code('PATCH', '/api/me/rooms/Not%20A%20Room', { muted: true })).toEqual([400, 'invalid_room']);
    expect(await code('GET', '/api/rooms/Not%20A%20Room/reads')).toEqual([400, 'invalid_room']);
    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'limit=1.5']) expect(await code('GET', `/api/me/notifications?${q}`), q).toEqual([400, 'invalid_limit']);
    expect(await code('GET', '/api/me/notifications?limit=1&limit=2')).toEqual([400, 'invalid_field']);
    expect(await code('GET', '/api/me/notifications?before=not-an-id')).toEqual([400, 'invalid_id']);
    expect(await code('GET', '/api/me/notifications?unread=maybe')).toEqual([400, 'invalid_field']);
    expect(await code('POST', '/api/me/notifications/read', {})).toEqual([400, 'invalid_body']);
    expect(await code('POST', '/api/me/notifications/read', { ids: ['x'], all: true })).toEqual([400, 'invalid_body']);
    expect(await code('POST', '/api/me/notifications/read', { ids: [] })).toEqual([400, 'invalid_field']);
    expect(await code('POST', '/api/me/notifications/read', { ids: 'abc' })).toEqual([400, 'invalid_field']);
    expect(await code('POST', '/api/me/notifications/read', { ids: Array.from({ length: 101 }, () => 'Z2VuZXJhbAoxLTA') })).toEqual([400, 'invalid_field']);
    expect(await code('POST', '/api/me/notifications/read', { ids: ['not an id'] })).toEqual([400, 'invalid_id']);
    expect(await code('POST', '/api/me/notifications/read', { all: false })).toEqual([400, 'invalid_field']);
    expect(await code('PUT', '/api/me/status', { status: 'busy' })).toEqual([400, 'invalid_field']);
    expect(await code('PUT', '/api/me/status', { status: 'dnd', until: 5 })).toEqual([400, 'invalid_body']);
    expect(await code('DELETE', '/api/me/status')).toEqual([405, 'method_not_allowed']);
    expect(await code('GET', '/api/me/rooms/general')).toEqual([405, 'method_not_allowed']);
    expect(await code('POST', '/api/rooms/general/reads')).toEqual([405, 'method_not_allowed']);
    expect(await code('GET', '/api/me/notifications', undefined, '')).toEqual([401, 'unauthorized']);
    expect(await code('PUT', '/api/me/status', { status: 'dnd' }, '')).toEqual([401, 'unauthorized']);
    // A valid id of nobody's notification is accepted and changes nothing.
    expect(await api('POST', '/api/me/notifications/read', { ids: ['Z2VuZXJhbAoxLTA'] }, t)).toEqual({ status: 200, json: { unread: 0 } });
  });
});
