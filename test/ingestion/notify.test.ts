// The notify worker against a real redis-server and a real SQLite store: ingest entries written
// as the chat scripts write them turn into exactly the inbox rows the rules say (causes.ts), a
// live `notify` frame on the user channel for each new one (none for DND), nothing twice on
// redelivery, and it never stalls: not on poison, not on an entry the store refuses, not on
// entries trimmed away while it held them.
import Database from 'better-sqlite3';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNotifyMetrics } from '../../services/notify/metrics.js';
import { NOTIFY_GROUP, NotifyWorker } from '../../services/notify/worker.js';
import { loadConfig } from '../../services/shared/config.js';
import { keysFor } from '../../services/shared/keys.js';
import { createLogger } from '../../services/shared/logger.js';
import { MENTION_ROOM, readMarkFields, type ChatMessage } from '../../services/shared/message.js';
import type { AppNotification, Store } from '../../services/shared/store/store.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { addRawEntry, openStore, tempDir } from './fixtures.js';
import {
  GROUP, PRIV, inbox, invite, markStored, message, nextId, notifyDone, notifyPending, produceMemberEvent, produceMessages, setupCast, type Cast,
} from './notify-fixtures.js';

const PARTITIONS = 2;
/** erin is invited here (and stays no member of PRIV). */
const PRIV2 = 'p:notifyroom222222';
const keys = keysFor(PARTITIONS);

let redis: TestRedis;
let tmp: ReturnType<typeof tempDir>;
let store: Store;
let client: Redis;
const running: NotifyWorker[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  for (const w of running.splice(0)) await w.stop();
  await store?.close();
  tmp?.cleanup();
  await redis.client().flushall();
});

afterAll(async () => {
  await redis?.stop();
});

async function setup(): Promise<Cast> {
  tmp = tempDir('aurora-notify-');
  store = await openStore(tmp.dbPath);
  client = redis.client();
  return setupCast(store);
}

function startNotifier(extra: Record<string, string> = {}): { worker: NotifyWorker; metrics: () => Promise<string> } {
  const config = loadConfig('ingestion', { SQLITE_PATH: tmp.dbPath, LOG_LEVEL: 'silent', NODE_ENV: 'test', PARTITIONS: String(PARTITIONS), INGEST_CONSUMER: 'n1', ...extra });
  const registry = new Registry();
  const worker = new NotifyWorker({
    config,
    log: createLogger({ ...config, prettyLogs: false }),
    redis: redis.client(),
    reader: redis.client(),
    store,
    keys,
    metrics: createNotifyMetrics(registry),
  });
  worker.start();
  running.push(worker);
  return { worker, metrics: () => registry.metrics() };
}

/** Subscribes to users' channels; returns the `notify` frames each got so far. */
async function listen(userIds: string[]): Promise<Map<string, AppNotification[]>> {
  const sub = redis.client();
  const got = new Map<string, AppNotification[]>(userIds.map((id) => [id, []]));
  const byChannel = new Map(userIds.map((id) => [keys.userChannel(id), id]));
  sub.on('message', (channel: string, payload: string) => {
    const frame = JSON.parse(payload) as { type: string; notification: AppNotification };
    expect(frame.type).toBe('notify');
    got.get(byChannel.get(channel)!)!.push(frame.notification);
  });
  await sub.subscribe(...byChannel.keys());
  return got;
}

/** The value of a counter in a /metrics text (0 when absent), optionally of one label value. */
function metricValue(text: string, name: string, label?: string): number {
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (label === undefined || (m[2] ?? '').includes(label))) return Number(m[3]);
  }
  return 0;
}

const kinds = (list: AppNotification[]) => list.map((n) => `${n.kind} ${n.sourceId}`).sort();
const done = () => waitFor(() => notifyDone(client, keys), { timeoutMs: 20_000, what: 'notify group caught up' });

describe('notify worker', { timeout: 60_000 }, () => {
  it('turns mentions, replies, DMs, group messages and invites into one notification each, pushed live unless DND', async () => {
    const c = await setup();
    const frames = await listen([c.alice.id, c.bob.id, c.carol.id, c.dave.id, c.erin.id]);
    // m1: bob and carol (DND) are told; dave muted PRIV; erin is no member; alice wrote it.
    const m1 = message(PRIV, c.alice, `hey @${c.bob.name} @${c.carol.name}`, { seq: 1, mentions: [c.bob.id, c.carol.id, c.dave.id, c.erin.id, c.alice.id] });
    const m2 = message(PRIV, c.bob, 'a reply to alice', { replyTo: m1.id, replyToUser: c.alice.id });
    const m3 = message(c.dm, c.alice, 'psst', { seq: 1 });
    const m4 = message(GROUP, c.bob, 'group hello', { seq: 1 });
    const m5 = message(PRIV, c.alice, 'all hands @room', { seq: 2, mentions: [MENTION_ROOM] });
    const edit = ['room', PRIV, 'id', nextId(), 'ev', 'edit', 'uid', c.alice.id, 'name', c.alice.name, 'cid', 'e1', 'tg', m5.id, 'text', `@${c.bob.name}`];
    // The users service applies an invite to the store before the entry is read (room-changes.ts).
    const inv = invite(PRIV2, c.alice, c.erin);
    await store.applyMembershipEvents([inv]);

    await produceMessages(client, keys, [m1, m2, m3, m4, m5]);
    await produceMemberEvent(client, keys, inv);
    await client.xadd(keys.ingestStreamOfRoom(PRIV), '*', ...edit);
    await client.xadd(keys.ingestStreamOfRoom(PRIV), '*', ...readMarkFields({ room: PRIV, user: c.bob, id: m5.id, seq: 2 }));
    await addRawEntry(client, keys, 0, ['room', 'general', 'id', 'not-an-id']);
    await markStored(client, keys);
    const { metrics } = startNotifier();
    await done();

    const expected = new Map([
      [c.alice.id, [`reply ${m2.id}`, `group ${m4.id}`]],
      [c.bob.id, [`mention ${m1.id}`, `dm ${m3.id}`, `mention ${m5.id}`]],
      [c.carol.id, [`mention ${m1.id}`, `group ${m4.id}`, `mention ${m5.id}`]],
      [c.dave.id, []],
      [c.erin.id, [`invite ${inv.id}`]],
    ]);
    for (const [user, list] of expected) expect(kinds(await inbox(store, user)), user).toEqual([...list].sort());
    // Live: everything but carol's (DND) — the same objects the inbox lists.
    await waitFor(async () => frames.get(c.bob.id)!.length === 3 && frames.get(c.alice.id)!.length === 2 && frames.get(c.erin.id)!.length === 1, {
      timeoutMs: 5000, what: 'notify frames',
    });
    for (const user of [c.alice.id, c.bob.id, c.erin.id]) {
      const stored = await inbox(store, user);
      expect([...frames.get(user)!].sort((a, b) => a.id.localeCompare(b.id))).toEqual([...stored].sort((a, b) => a.id.localeCompare(b.id)));
    }
    expect(frames.get(c.carol.id)).toEqual([]);
    const [bobsMention] = (await inbox(store, c.bob.id)).filter((n) => n.sourceId === m1.id);
    expect(bobsMention).toMatchObject({ kind: 'mention', room: PRIV, actor: c.alice, text: m1.text, ts: m1.ts, read: false });

    const text = await metrics();
    expect(metricValue(text, 'aurora_notify_entries_total')).toBe(9);
    expect(metricValue(text, 'aurora_notify_entries_skipped_total', 'reason="poison"')).toBe(1);
    expect(metricValue(text, 'aurora_notify_notifications_total', 'kind="mention"')).toBe(4);
    expect(metricValue(text, 'aurora_notify_pushed_total')).toBe(6);
    expect(metricValue(text, 'aurora_notify_targets_dropped_total', 'reason="muted"')).toBe(2); // dave: m1, m5
  });

  it('trails storage: an entry the storage group has not stored yet is notified only once it is', async () => {
    const c = await setup();
    await markStored(client, keys); // storage's group exists, at the end of every (empty) stream
    const frames = await listen([c.bob.id]);
    startNotifier();
    const early = message(c.dm, c.alice, 'not stored yet', { seq: 1 });
    await produceMessages(client, keys, [early]);
    // The notifier has it in hand, and holds it while storage has not acked it.
    await waitFor(async () => (await notifyPending(client, keys, 'n1')) === 1, { timeoutMs: 5000, what: 'the entry read' });
    await new Promise((r) => setTimeout(r, 300)); // many storage polls: proves it waits, not that it was slow
    expect(await inbox(store, c.bob.id)).toEqual([]);
    expect(frames.get(c.bob.id)).toEqual([]);
    await markStored(client, keys);
    await done();
    expect(kinds(await inbox(store, c.bob.id))).toEqual([`dm ${early.id}`]);
  });

  it('a redelivered batch (stored, not acked) adds nothing to the inbox and pushes nothing again', async () => {
    const c = await setup();
    const sent: ChatMessage[] = Array.from({ length: 40 }, (_, i) => message(GROUP, c.alice, `note ${i}`, { seq: i + 1, mentions: [c.bob.id] }));
    await produceMessages(client, keys, sent);
    await markStored(client, keys);
    const frames = await listen([c.bob.id, c.carol.id]);
    const first = startNotifier();
    await done();
    await first.worker.stop();
    await waitFor(async () => frames.get(c.bob.id)!.length === 40, { timeoutMs: 5000, what: 'first frames' });
    const before = { bob: await inbox(store, c.bob.id), carol: await inbox(store, c.carol.id) };
    expect(before.bob).toHaveLength(40);
    expect(before.carol).toHaveLength(40); // group, stored though DND

    // As after a kill -9 between insert and ack: the group hands every entry out again.
    for (const s of keys.allIngestStreams()) await client.xgroup('SETID', s, NOTIFY_GROUP, '0');
    const again = startNotifier({ INGEST_CONSUMER: 'n2' });
    await done();
    expect(await inbox(store, c.bob.id)).toEqual(before.bob);
    expect(await inbox(store, c.carol.id)).toEqual(before.carol);
    expect(metricValue(await again.metrics(), 'aurora_notify_entries_total')).toBe(40);
    expect(metricValue(await again.metrics(), 'aurora_notify_pushed_total')).toBe(0);
    expect(frames.get(c.bob.id)).toHaveLength(40);
  });

  it('an entry the store refuses on its own is skipped after retries; the rest of its batch is stored and acked', async () => {
    const c = await setup();
    // A store that answers but refuses one notification: a trigger on the inbox table.
    const db = new Database(tmp.dbPath);
    db.exec(`CREATE TRIGGER reject_poison_notes BEFORE INSERT ON notifications WHEN NEW.text LIKE 'poison%'
             BEGIN SELECT RAISE(ABORT, 'rejected by test trigger'); END`);
    db.close();
    const good = message(c.dm, c.alice, 'fine', { seq: 1 });
    const bad = message(c.dm, c.alice, 'poison pill', { seq: 2 });
    const later = message(c.dm, c.alice, 'also fine', { seq: 3 });
    await produceMessages(client, keys, [good, bad, later]);
    await markStored(client, keys);
    const { metrics } = startNotifier();
    await done();
    expect(kinds(await inbox(store, c.bob.id))).toEqual([`dm ${good.id}`, `dm ${later.id}`].sort());
    expect(metricValue(await metrics(), 'aurora_notify_entries_skipped_total', 'reason="rejected"')).toBe(1);
  });

  it('entries trimmed from the stream while another consumer held them are counted and acked, not waited for', async () => {
    const c = await setup();
    for (const s of keys.allIngestStreams()) await client.xgroup('CREATE', s, NOTIFY_GROUP, '0', 'MKSTREAM');
    const lost = Array.from({ length: 5 }, (_, i) => message(c.dm, c.alice, `lost ${i}`, { seq: i + 1 }));
    await produceMessages(client, keys, lost);
    const stream = keys.ingestStreamOfRoom(c.dm);
    // A consumer that died holding them; then the trimmer gave up on the group (NOTIFY_MAX_LAG).
    await client.xreadgroup('GROUP', NOTIFY_GROUP, 'ghost', 'COUNT', 100, 'STREAMS', stream, '>');
    await client.xtrim(stream, 'MAXLEN', 0);
    const kept = message(c.dm, c.alice, 'kept', { seq: 6 });
    await produceMessages(client, keys, [kept]);
    await markStored(client, keys);
    const { metrics } = startNotifier({ INGEST_CLAIM_IDLE_MS: '100' });
    await done();
    await waitFor(async () => metricValue(await metrics(), 'aurora_notify_entries_skipped_total', 'reason="trimmed"') === 5, { timeoutMs: 10_000, what: 'trimmed entries counted' });
    expect(kinds(await inbox(store, c.bob.id))).toEqual([`dm ${kept.id}`]);
  });
});
