// POST /api/rooms/:room/messages (issue 19): a bot sends without a WebSocket, through the very send
// script a chat replica runs. Proven end to end on the real users service, a chat replica and an
// ingestion worker over one redis-server and one SQLite file: the message reaches a ws member live
// as the same `message` frame, is stored once, a retry with the same cid is the same message; the
// room's membership rules, the ws error codes (with HTTP statuses), the per-room rate limit and the
// account-wide budget — shared with the bot's ws sends — all hold.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClientFrame } from '../../services/chat/protocol.js';
import { dmRoomName, newMembersOnlyRoom } from '../../services/shared/rooms.js';
import { postMessageBody } from '../../services/users/message-routes.js';
import { TestClient } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient, type Session } from './http.js';

const JWT_SECRET = 'post-message-test-secret-0123456789abcdef';
const ORIGIN = 'http://chat.example.test';
/** Per user per room: four at once, then one per 15 s. */
const RATE_LIMIT_MESSAGES = 4;
/** Per user over all rooms (PARTITIONS=1: one budget). */
const USER_SEND_MAX_MESSAGES = 10;
/** Refusals by the room rate limit within a minute before an automatic mute. */
const AUTO_MUTE_AFTER = 3;

let redis: TestRedis;
let dir: string;
let users: RunningService;
let chat: RunningService;
let worker: RunningService;

const { api, signUp } = apiClient(() => users.baseUrl);
const enc = encodeURIComponent;
const post = (s: Session | null, room: string, body: unknown) => api('POST', `/api/rooms/${enc(room)}/messages`, body, s?.token);
const connect = (s: Session) => TestClient.connect(chat.baseUrl, s.token, { origin: ORIGIN });

/** The stored top-level messages of `room` whose cid is `cid`, as `viewer` reads history. */
async function storedWithCid(viewer: Session, room: string, cid: string): Promise<{ id: string }[]> {
  const page = await api('GET', `/api/rooms/${enc(room)}/messages?limit=200`, undefined, viewer.token);
  expect(page.status).toBe(200);
  return page.json.messages.filter((m: { cid: string }) => m.cid === cid);
}

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-post-message-'));
  const common = {
    REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'warn', PARTITIONS: '1',
    SQLITE_PATH: join(dir, 'aurora.db'), FILES_DIR: join(dir, 'files'),
    RATE_LIMIT_MESSAGES: String(RATE_LIMIT_MESSAGES), RATE_LIMIT_WINDOW_MS: '60000', USER_SEND_MAX_MESSAGES: String(USER_SEND_MAX_MESSAGES),
    AUTO_MUTE_AFTER: String(AUTO_MUTE_AFTER),
  };
  users = await startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000' });
  chat = await startService('chat', { ...common, REPLICA_ID: 'chat-a', HANDSHAKE_MAX_PER_USER: '100000', SHUTDOWN_DRAIN_MS: '200' }, { waitReady: true });
  worker = await startService('ingestion', { ...common, INGEST_CONSUMER: 'w1', INGEST_BATCH_MS: '20' });
}, 90_000);

afterAll(async () => {
  await Promise.all([users, chat, worker].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('POST /api/rooms/:room/messages', { timeout: 60_000 }, () => {
  it('a bot posts: a ws member gets the message frame live, history stores it once, a retry with the same cid is the same message', async () => {
    const alice = await signUp('alice');
    const bot = await signUp('deploybot');
    const a = await connect(alice);
    await a.join('releases');

    const sent = await post(bot, 'releases', { text: 'v1.2.3 is live', cid: 'deploy-1' });
    expect(sent.status).toBe(201);
    expect(sent.json).toEqual({ id: expect.stringMatching(/^\d+-\d+$/), ts: expect.any(Number) });
    const { id, ts } = sent.json;

    // the frame the send script published, as for a ws send: every replica fans it out
    const live = await a.next('message', (f) => f.cid === 'deploy-1');
    expect(live).toMatchObject({ type: 'message', room: 'releases', user: { id: bot.user.id, name: 'deploybot' }, text: 'v1.2.3 is live', id, ts });
    expect(live.seq).toEqual(expect.any(Number));
    // posting joined the bot, as a ws join of a public room does
    await a.find('event', (f) => f.kind === 'member' && f.action === 'joined' && f.member.id === bot.user.id);

    // the retry of a request whose answer was lost: the same id, nothing appended
    const retry = await post(bot, 'releases', { text: 'v1.2.3 is live', cid: 'deploy-1' });
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual({ id, ts, duplicate: true });

    // a later message, once stored, proves ingestion passed the first one: stored exactly once
    const marker = await post(bot, 'releases', { text: 'marker', cid: 'deploy-2' });
    expect(marker.status).toBe(201);
    await a.next('message', (f) => f.cid === 'deploy-2');
    await waitFor(async () => (await storedWithCid(alice, 'releases', 'deploy-2')).length === 1, { what: 'the marker in history' });
    const stored = await storedWithCid(alice, 'releases', 'deploy-1');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ id, text: 'v1.2.3 is live', user: { id: bot.user.id, name: 'deploybot' } });
    expect(a.all('message', (f) => f.cid === 'deploy-1')).toHaveLength(1);

    // a thread reply and a files-only message: the ws send's other fields, the same rules
    const reply = await post(bot, 'releases', { text: 'rollout at 100%', cid: 'deploy-3', replyTo: id });
    expect(reply.status).toBe(201);
    expect(await a.next('message', (f) => f.cid === 'deploy-3')).toMatchObject({ replyTo: id, replyCount: 1, id: reply.json.id });
    const up = await fetch(`${users.baseUrl}/api/rooms/releases/attachments?name=notes.txt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bot.token}`, 'content-type': 'application/octet-stream' },
      body: 'release notes\n',
    });
    expect(up.status).toBe(201);
    const upload = ((await up.json()) as { attachment: { id: string } }).attachment;
    const files = await post(bot, 'releases', { text: '', cid: 'deploy-4', attachments: [upload.id] });
    expect(files.status).toBe(201);
    expect(await a.next('message', (f) => f.cid === 'deploy-4')).toMatchObject({ text: '', attachments: [{ id: upload.id, name: 'notes.txt' }] });
    // an upload is sent once
    const again = await post(bot, 'releases', { text: 'again', cid: 'deploy-5', attachments: [upload.id] });
    expect(again.status).toBe(400);
    expect(again.json.error.code).toBe('bad_attachment');
    await a.close();
  });

  it('who may post: members of a private room, the two users of a DM; a non-member gets 403, alike for a room that does not exist', async () => {
    const owner = await signUp('olivia');
    const outsider = await signUp('oscar');
    const peer = await signUp('petra');
    const created = await api('POST', '/api/rooms', { kind: 'private', title: 'Ops', members: [] }, owner.token);
    expect(created.status).toBe(201);
    const room: string = created.json.room.name;

    expect((await post(owner, room, { text: 'members only', cid: 'p-1' })).status).toBe(201);
    const refused = await post(outsider, room, { text: 'let me in', cid: 'p-2' });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('forbidden');
    const ghost = await post(outsider, newMembersOnlyRoom('private'), { text: 'let me in', cid: 'p-2' });
    expect(ghost).toEqual(refused);

    const theirs = dmRoomName(owner.user.id, peer.user.id);
    const dm = await post(outsider, theirs, { text: 'hi', cid: 'd-1' });
    expect(dm.status).toBe(403);
    expect(dm.json.error.code).toBe('forbidden');
    const p = await connect(peer);
    await p.join(theirs);
    const mine = await post(owner, theirs, { text: 'hi petra', cid: 'd-2' });
    expect(mine.status).toBe(201);
    expect(await p.next('message', (f) => f.cid === 'd-2')).toMatchObject({ room: theirs, id: mine.json.id });
    await p.close();

    // a moderator's mute holds here too: 403 muted, with when it ends
    expect((await api('POST', '/api/rooms', { kind: 'public', name: 'quiet-room' }, owner.token)).status).toBe(201);
    expect((await post(peer, 'quiet-room', { text: 'hello', cid: 'q-1' })).status).toBe(201);
    expect((await api('POST', '/api/rooms/quiet-room/mutes', { userId: peer.user.id, seconds: 120 }, owner.token)).status).toBe(200);
    const muted = await post(peer, 'quiet-room', { text: 'hello?', cid: 'q-2' });
    expect(muted.status).toBe(403);
    expect(muted.json.error).toMatchObject({ code: 'muted', retryAfterMs: expect.any(Number) });
  });

  it('bad input is 400 with the ws error codes, refused before anything is written; no token is 401', async () => {
    const carol = await signUp('carol');
    const cases: [unknown, string, string?][] = [
      [{ text: 'x'.repeat(4001), cid: 'b-1' }, 'too_long'],
      [{ text: 'no cid' }, 'bad_request'],
      [{ text: 'x', cid: 'has space' }, 'bad_request'],
      [{ text: '   ', cid: 'b-2' }, 'bad_request'],
      [{ text: 7, cid: 'b-3' }, 'bad_request'],
      [{ text: 'x', cid: 'b-4', replyTo: 'not-an-id' }, 'bad_request'],
      [{ text: 'x', cid: 'b-5', attachments: ['nope'] }, 'bad_request'],
      [{ text: 'x', cid: 'b-6', attachments: ['a0123456789abcdef01234567'] }, 'bad_attachment'],
      [{ text: 'x', cid: 'b-7', replyTo: '1700000000000-0' }, 'not_found'],
      [{ text: 'x', cid: 'b-8' }, 'invalid_room', 'Not A Room'],
      [[1, 2], 'invalid_body'],
    ];
    for (const [body, code, room = 'sandbox'] of cases) {
      const r = await post(carol, room, body);
      expect(r.json.error.code, JSON.stringify(body)).toBe(code);
      expect(r.status).toBe(code === 'not_found' ? 404 : 400);
    }
    // 4,000 characters as a JSON encoder that escapes non-ASCII sends them (\uXXXX: 24 KB, over
    // the API's 16 KiB body limit) are accepted like over the WebSocket; 4,001 are too_long.
    const escaped = (n: number, cid: string) => `{"text":"${'\\u00e9'.repeat(n)}","cid":"${cid}"}`;
    const raw = (body: string) =>
      fetch(`${users.baseUrl}/api/rooms/escaped/messages`, { method: 'POST', headers: { authorization: `Bearer ${carol.token}`, 'content-type': 'application/json' }, body });
    expect((await raw(escaped(4_000, 'e-1'))).status).toBe(201);
    const over = await raw(escaped(4_001, 'e-2'));
    expect(over.status).toBe(400);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe('too_long');
    // the refused ones left nothing: the first accepted message is the room's first
    expect((await post(carol, 'sandbox', { text: 'fine', cid: 'b-9' })).status).toBe(201);
    await waitFor(async () => (await storedWithCid(carol, 'sandbox', 'b-9')).length === 1, { what: 'b-9 stored' });
    const page = await api('GET', '/api/rooms/sandbox/messages', undefined, carol.token);
    expect(page.json.messages.map((m: { cid: string }) => m.cid)).toEqual(['b-9']);

    const none = await post(null, 'sandbox', { text: 'hi', cid: 'u-1' });
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('unauthorized');
    expect((await api('POST', '/api/rooms/sandbox/messages', { text: 'hi', cid: 'u-2' }, 'not.a.token')).status).toBe(401);
    const put = await fetch(`${users.baseUrl}/api/rooms/sandbox/messages`, { method: 'PUT', headers: { authorization: `Bearer ${carol.token}` } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
  });

  it('limits: the room rate limit is 429 rate_limited with Retry-After; the account budget is shared with the ws sends', async () => {
    const dave = await signUp('dave');
    for (let i = 1; i <= RATE_LIMIT_MESSAGES; i++) expect((await post(dave, 'busy', { text: `m${i}`, cid: `r-${i}` })).status).toBe(201);
    const limited = await fetch(`${users.baseUrl}/api/rooms/busy/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dave.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'one more', cid: 'r-5' }),
    });
    expect(limited.status).toBe(429);
    const body = (await limited.json()) as { error: { code: string; limit: string; retryAfterMs: number } };
    expect(body.error).toMatchObject({ code: 'rate_limited', limit: 'room' });
    expect(body.error.retryAfterMs).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBe(Math.ceil(body.error.retryAfterMs / 1000));
    // a poster that ignores Retry-After is muted there, as a ws client would be (auto-mute.ts)
    for (let i = 2; i <= AUTO_MUTE_AFTER; i++) expect((await post(dave, 'busy', { text: 'more', cid: `r-x${i}` })).status).toBe(429);
    const muted = await waitFor(async () => {
      const r = await post(dave, 'busy', { text: 'still here', cid: 'r-muted' });
      return r.json.error.code === 'muted' ? r : undefined;
    }, { what: 'the automatic mute' });
    expect(muted.status).toBe(403);

    // the account budget: ws sends and REST posts draw on one (USER_SEND_MAX_MESSAGES)
    const d = await connect(dave);
    await d.join('busy-2');
    await d.join('busy-3');
    const spent = RATE_LIMIT_MESSAGES; // in 'busy'
    const wsSends = Math.min(RATE_LIMIT_MESSAGES, USER_SEND_MAX_MESSAGES - spent);
    for (let i = 0; i < wsSends; i++) expect(await d.sendText('busy-2', `w${i}`, `w-${i}`)).toMatchObject({ type: 'ack' });
    const left = USER_SEND_MAX_MESSAGES - spent - wsSends;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(RATE_LIMIT_MESSAGES);
    for (let i = 0; i < left; i++) expect((await post(dave, 'busy-3', { text: `x${i}`, cid: `x-${i}` })).status).toBe(201);
    const over = await post(dave, 'busy-3', { text: 'over', cid: 'x-over' });
    expect(over.status).toBe(429);
    expect(over.json.error).toMatchObject({ code: 'rate_limited', limit: 'account' });
    // and a ws send after it is refused alike
    expect(await d.sendText('busy-3', 'over', 'w-over')).toMatchObject({ type: 'error', code: 'rate_limited', limit: 'account' });
    await d.close();
  });
});

describe('postMessageBody (the schema the API description is generated from)', () => {
  it('accepts and refuses as the ws send parser does', () => {
    const samples: unknown[] = [
      { text: 'hi', cid: 'c1' },
      { text: 'x'.repeat(4000), cid: 'c_-9' },
      { text: 'x'.repeat(4001), cid: 'c1' },
      { text: 'hi', cid: '' },
      { text: 'hi', cid: 'x'.repeat(65) },
      { text: 'hi' },
      { cid: 'c1' },
      { text: 'hi', cid: 'c1', replyTo: '1700000000000-3' },
      { text: 'hi', cid: 'c1', replyTo: null },
      { text: 'hi', cid: 'c1', replyTo: '99999999999999999-0' },
      { text: 'hi', cid: 'c1', replyTo: 'abc' },
      { text: '', cid: 'c1', attachments: ['a0123456789abcdef01234567'] },
      { text: 'hi', cid: 'c1', attachments: ['a0123456789abcdef01234567', 'a0123456789abcdef01234567'] },
      { text: 'hi', cid: 'c1', attachments: Array.from({ length: 11 }, (_, i) => `a${String(i).padStart(24, '0')}`) },
      { text: 'hi', cid: 'c1', attachments: ['A0123456789abcdef01234567'] },
      { text: 'hi', cid: 'c1', attachments: null },
      { text: '', cid: 'c1' },
      { text: ' \n ', cid: 'c1' },
      { text: ' ', cid: 'c1', attachments: ['a0123456789abcdef01234567'] },
      { text: 'hi', cid: 'c1', attachments: [] },
    ];
    for (const body of samples) {
      const ws = parseClientFrame(JSON.stringify({ ...(body as object), type: 'send', room: 'general' })).ok;
      expect(postMessageBody.safeParse(body).success, JSON.stringify(body).slice(0, 80)).toBe(ws);
    }
  });
});
