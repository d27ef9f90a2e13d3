// The assistant end to end (issue 17): a redis-server, the users service, TWO chat replicas, an
// ingestion process running the assistant against a real local OpenAI-compatible server
// (test/helpers/fake-openai-server.ts: the offline provider's answers streamed as Chat
// Completions chunks, or scripted responses). A question to @assistant gets a placeholder at
// once, its tokens live on both replicas as `delta` frames, and ONE stored answer (an edit of the
// placeholder) — in a thread when asked in one, in a private room it is not a member of, in a DM.
// The asker's stop keeps the partial answer marked stopped; a provider error is a short line; the
// per-user quota refuses with a line; the API key never reaches a frame or a log line; and a
// worker killed -9 mid-answer is replaced and the question is answered exactly once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, type Frame } from '../chat/client.js';
import { chunk, startFakeOpenAIServer, type FakeOpenAIServer } from '../helpers/fake-openai-server.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient } from './http.js';

const JWT_SECRET = 'assistant-test-secret-0123456789abcdef01';
const ORIGIN = 'http://chat.example.test';
const API_KEY = 'sk-test-NEVER-LOG-THIS-4c1d9e';
const REQUESTS_PER_WINDOW = 4;

let redis: TestRedis;
let dir: string;
let fake: FakeOpenAIServer;
let users: RunningService;
let chatA: RunningService;
let chatB: RunningService;
let ingest: RunningService;
let ingestEnv: Record<string, string>;
const open: TestClient[] = [];
const allFrames: string[] = [];

const { api, signUp } = apiClient(() => users.baseUrl);
const enc = encodeURIComponent;

async function connect(token: string, chat: RunningService): Promise<TestClient> {
  const c = await TestClient.connect(chat.baseUrl, token, { origin: ORIGIN });
  open.push(c);
  return c;
}

/** The assistant's placeholder for a question: the first assistant message after it in the room. */
const placeholderOf = (c: TestClient, room: string, after: string) =>
  c.find('message', (f) => f.room === room && f.user.name === 'assistant' && f.id > after, 15_000);
const finalOf = (c: TestClient, room: string, answerId: string) =>
  c.find('event', (f) => f.kind === 'edit' && f.room === room && f.target === answerId, 20_000);

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeOpenAIServer({ modelChunkDelayMs: 15 });
  dir = mkdtempSync(join(tmpdir(), 'aurora-assistant-'));
  const common = { REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'info', PARTITIONS: '2', SQLITE_PATH: join(dir, 'aurora.db') };
  const chatEnv = { ...common, HANDSHAKE_MAX_PER_USER: '100000', HANDSHAKE_MAX_PER_IP: '100000', SHUTDOWN_DRAIN_MS: '200' };
  ingestEnv = {
    ...common,
    INGEST_CONSUMER: 'w1',
    INGEST_BATCH_MS: '20',
    INGEST_CLAIM_IDLE_MS: '2000',
    SHUTDOWN_DRAIN_MS: '200',
    ASSISTANT_PROVIDER: 'openai',
    ASSISTANT_BASE_URL: fake.baseURL,
    ASSISTANT_API_KEY: API_KEY,
    ASSISTANT_MODEL: 'fake-model',
    ASSISTANT_IDLE_TIMEOUT_MS: '3000',
    ASSISTANT_USER_REQUESTS: String(REQUESTS_PER_WINDOW),
  };
  [users, chatA, chatB, ingest] = await Promise.all([
    startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000', LOGIN_MAX_PER_IP: '100000' }),
    startService('chat', { ...chatEnv, REPLICA_ID: 'chat-a' }, { waitReady: true }),
    startService('chat', { ...chatEnv, REPLICA_ID: 'chat-b' }, { waitReady: true }),
    startService('ingestion', ingestEnv),
  ]);
}, 90_000);

afterAll(async () => {
  for (const c of open) {
    allFrames.push(...c.frames.map((f) => JSON.stringify(f)));
    await c.close().catch(() => {});
  }
  // the key is in no frame any client received and in no log line of any service
  for (const line of [...allFrames, ...users.logs, ...chatA.logs, ...chatB.logs, ...ingest.logs]) expect(line).not.toContain(API_KEY);
  await Promise.all([users, chatA, chatB, ingest].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await fake?.close();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the assistant', { timeout: 60_000 }, () => {
  it('answers @assistant live on both replicas: placeholder, deltas, one final edit, stored once', async () => {
    const ann = await signUp('ann');
    const bob = await signUp('bob');
    const annSock = await connect(ann.token, chatA);
    const bobSock = await connect(bob.token, chatB);
    await annSock.join('general');
    await bobSock.join('general');
    for (const [i, t] of ['the launch is on friday', 'we need the slides', 'slides are almost done'].entries()) {
      await (i % 2 ? bobSock : annSock).sendText('general', t, `ctx-${i}`);
    }
    const q = await annSock.sendText('general', '@assistant summarise this room please', 'q-1');
    expect(q.type).toBe('ack');

    const placeholder = await placeholderOf(bobSock, 'general', q.id);
    expect(placeholder).toMatchObject({ text: 'thinking…', cid: `asst-${q.id}` });
    expect(placeholder.replyTo).toBeUndefined();
    const final = await finalOf(bobSock, 'general', placeholder.id);
    const deltas = bobSock.all('delta', (f) => f.id === placeholder.id);
    expect(deltas.length).toBeGreaterThanOrEqual(2);
    for (const d of deltas) expect(d).toMatchObject({ room: 'general', asker: ann.user.id });
    // each delta is the answer so far: a prefix of the next and of the final text
    for (let i = 1; i < deltas.length; i++) expect(deltas[i]!.text.startsWith(deltas[i - 1]!.text)).toBe(true);
    expect(final.text.startsWith(deltas.at(-1)!.text.trimEnd())).toBe(true);
    expect(final.text).toMatch(/slides/);
    // ann's replica got the same
    expect((await finalOf(annSock, 'general', placeholder.id)).text).toBe(final.text);

    // the provider got the room's conversation and the key
    const req = fake.requests.at(-1)!;
    expect(req.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(JSON.stringify(req.body.messages)).toContain('we need the slides');

    // stored once, as the final text
    await waitFor(async () => {
      const page = await api('GET', '/api/rooms/general/messages?limit=50', undefined, bob.token);
      const answers = page.json.messages.filter((m: any) => m.user.name === 'assistant' && m.id > q.id);
      return answers.length === 1 && answers[0].text === final.text && answers[0].id === placeholder.id;
    }, { timeoutMs: 10_000, what: 'the stored answer' });
  });

  it('answers in the thread it was asked in, in a private room it is not a member of, and in a DM', async () => {
    const cat = await signUp('cat');
    const dan = await signUp('dan');
    const created = await api('POST', '/api/rooms', { kind: 'private', title: 'Secret', members: [dan.user.id] }, cat.token);
    const room: string = created.json.room.name;
    const catSock = await connect(cat.token, chatA);
    const danSock = await connect(dan.token, chatB);
    await catSock.join(room);
    await danSock.join(room);
    const parent = await catSock.sendText(room, 'plan for the offsite', 'p-1');
    const q = await danSock.request({ type: 'send', room, text: 'what time is it @assistant?', replyTo: parent.id, cid: 'p-2' });
    const answer = await placeholderOf(catSock, room, q.id);
    expect(answer.replyTo).toBe(parent.id);
    expect((await finalOf(catSock, room, answer.id)).text).toMatch(/\d{1,2}:\d{2}/);
    // not made a member of the room
    const members = await api('GET', `/api/rooms/${enc(room)}/members`, undefined, cat.token);
    expect(members.json.members.map((m: any) => m.username).sort()).toEqual(['cat', 'dan']);

    const found = await api('GET', '/api/users?query=assistant', undefined, cat.token);
    const assistantId: string = found.json.users.find((u: any) => u.username === 'assistant').id;
    const dm = `dm:${[cat.user.id, assistantId].sort().join(':')}`;
    await catSock.join(dm);
    const asked = await catSock.sendText(dm, 'help', 'dm-1');
    const inDm = await placeholderOf(catSock, dm, asked.id);
    expect((await finalOf(catSock, dm, inDm.id)).text.length).toBeGreaterThan(20);
  });

  it('the asker stops an answer: the partial text is kept, marked stopped; nobody else may stop it', async () => {
    const eve = await signUp('eve');
    const fay = await signUp('fay');
    const eveSock = await connect(eve.token, chatA);
    const faySock = await connect(fay.token, chatB);
    await eveSock.join('general');
    await faySock.join('general');
    fake.script({ chunks: Array.from({ length: 40 }, (_, i) => chunk.text(`word${i} `)).concat([chunk.finish('stop')]), chunkDelayMs: 100 });
    const q = await eveSock.sendText('general', '@assistant write a long story', 's-1');
    const answer = await placeholderOf(faySock, 'general', q.id);
    await faySock.find('delta', (f: Frame) => f.id === answer.id);
    expect((await api('POST', '/api/rooms/general/assistant/stop', { id: answer.id }, fay.token)).status).toBe(404);
    expect(await api('POST', '/api/rooms/general/assistant/stop', { id: answer.id }, eve.token)).toEqual({ status: 202, json: { stopping: true } });
    const final = await finalOf(faySock, 'general', answer.id);
    expect(final.text).toMatch(/^word0 .*\(stopped\)$/s);
    expect(final.text).not.toContain('word39');
  });

  it('a provider error becomes a short line in the room; the quota refuses with a line', async () => {
    const gus = await signUp('gus');
    const gusSock = await connect(gus.token, chatA);
    await gusSock.join('general');
    fake.script({ status: 500, body: { error: { message: `upstream exploded near ${API_KEY}` } } });
    const q1 = await gusSock.sendText('general', '@assistant hello', 'e-1');
    const failed = await finalOf(gusSock, 'general', (await placeholderOf(gusSock, 'general', q1.id)).id);
    expect(failed.text).toMatch(/^⚠ /);
    expect(failed.text).not.toContain(API_KEY);

    // gus has asked once; REQUESTS_PER_WINDOW - 1 more are answered, the next is refused
    for (let i = 2; i <= REQUESTS_PER_WINDOW; i++) {
      const q = await gusSock.sendText('general', `@assistant what time is it ${i}`, `e-${i}`);
      await finalOf(gusSock, 'general', (await placeholderOf(gusSock, 'general', q.id)).id);
    }
    const over = await gusSock.sendText('general', '@assistant one more', 'e-over');
    const refusal = await placeholderOf(gusSock, 'general', over.id);
    expect(refusal.text).toMatch(/^@gus you have asked me too often: try again in \d+ (min|s)\.$/);
  });

  it('killed -9 mid-answer, the restarted worker answers the question exactly once', async () => {
    const hal = await signUp('hal');
    const halSock = await connect(hal.token, chatB);
    await halSock.join('general');
    fake.script({ chunks: Array.from({ length: 30 }, (_, i) => chunk.text(`slow${i} `)).concat([chunk.finish('stop')]), chunkDelayMs: 200 });
    const q = await halSock.sendText('general', '@assistant help me out', 'k-1');
    const answer = await placeholderOf(halSock, 'general', q.id);
    await halSock.find('delta', (f: Frame) => f.id === answer.id);
    await ingest.stop('SIGKILL');
    ingest = await startService('ingestion', ingestEnv);

    // the replacement answers (model mode now: the offline help text) as an edit of the SAME placeholder
    const final = await finalOf(halSock, 'general', answer.id);
    expect(final.text).not.toMatch(/slow\d/);
    expect(final.text.length).toBeGreaterThan(20);
    await waitFor(async () => {
      const page = await api('GET', '/api/rooms/general/messages?limit=100', undefined, hal.token);
      const answers = page.json.messages.filter((m: any) => m.user.name === 'assistant' && m.cid === `asst-${q.id}`);
      return answers.length === 1 && answers[0].text === final.text;
    }, { timeoutMs: 10_000, what: 'one stored answer' });
    expect(halSock.all('message', (f) => f.user.name === 'assistant' && f.cid === `asst-${q.id}`)).toHaveLength(1);
    expect(halSock.all('event', (f) => f.kind === 'edit' && f.target === answer.id)).toHaveLength(1);
  });
});
