// Shared by the ingestion end-to-end tests and bench/ingest.bench.ts: write messages and room
// events to the ingest streams the way the chat scripts do (room log XADD first, its id becomes
// the entry's id, then the ingest entry with message.ts ingestEntryFields / ingestEventFields),
// start worker processes, and read back what the store holds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../services/shared/config.js';
import { compareIds } from '../../services/shared/ids.js';
import { INGEST_GROUP, keysFor, type Keys } from '../../services/shared/keys.js';
import { createLogger } from '../../services/shared/logger.js';
import { fieldRecord } from '../../services/shared/redis.js';
import {
  ingestEntryFields,
  ingestEventFields,
  isRoomEvent,
  type ChatMessage,
  type EventKind,
  type LogEntry,
  type RoomEvent,
} from '../../services/shared/message.js';
import { createStore, type Store } from '../../services/shared/store/index.js';
import { runCli } from '../helpers/cli.js';
import { startService, type RunningService } from '../helpers/service.js';

/**
 * The send and event scripts' two stream writes, minus rate limit / idempotency / authorisation
 * / publish: XADD to the room log (its id is the entry's id), then XADD the ingest entry. ARGV
 * is ingestEntryFields or ingestEventFields with an empty id: ARGV[4] is the id's value slot,
 * and the room log gets the fields after `room <room> id <id>` (the live-only counts rc and n,
 * which the store does not read, are left out).
 */
const PRODUCE_LUA = `
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', 5000, '*', unpack(fields))
ARGV[4] = id
redis.call('XADD', KEYS[2], '*', unpack(ARGV))
return id`;

export interface Draft {
  room: string;
  uid?: string;
  name?: string;
  text?: string;
  cid?: string;
  /** A thread reply to this (stored or produced) top-level message. */
  replyTo?: string;
}

/** An event on a message already produced (`target` is its id). */
export interface EventDraft {
  room: string;
  kind: EventKind;
  target: string;
  uid?: string;
  name?: string;
  cid?: string;
  /** edit */
  text?: string;
  /** delete of a reply: its parent */
  replyTo?: string;
  /** react */
  emoji?: string;
  on?: boolean;
}

/** Writes the drafts in order (pipelined in chunks); returns the messages with their ids. */
export async function produce(redis: Redis, keys: Keys, drafts: readonly Draft[], chunk = 500): Promise<ChatMessage[]> {
  return (await produceEntries(redis, keys, drafts, chunk)) as ChatMessage[];
}

/**
 * Writes the drafts and, in the same MULTI, reads them with XREADGROUP `>` as `consumer`: they
 * are then pending under that consumer although its process never got them — what a read leaves
 * behind when Redis served it and the reply was lost (Redis killed after answering, a connection
 * reset). A worker blocked in XREADGROUP is served after the EXEC and finds nothing new.
 */
export async function produceReadElsewhere(redis: Redis, keys: Keys, drafts: readonly Draft[], consumer: string): Promise<ChatMessage[]> {
  const messages = drafts.map(toMessage);
  const tx = redis.multi();
  for (const m of messages) tx.eval(PRODUCE_LUA, 2, keys.roomLog(m.room), keys.ingestStreamOfRoom(m.room), ...ingestEntryFields(m));
  for (const stream of keys.allIngestStreams()) tx.xreadgroup('GROUP', INGEST_GROUP, consumer, 'COUNT', drafts.length, 'STREAMS', stream, '>');
  const results = (await tx.exec()) ?? [];
  messages.forEach((m, i) => {
    const [err, id] = results[i]!;
    if (err) throw err;
    m.id = String(id);
    m.ts = Number(m.id.split('-')[0]);
  });
  return messages;
}

/** Writes message and event drafts in the order given (one room log each); returns them with their ids. */
export async function produceEntries(
  redis: Redis,
  keys: Keys,
  drafts: readonly (Draft | EventDraft)[],
  chunk = 500,
): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for (let i = 0; i < drafts.length; i += chunk) {
    const part = drafts.slice(i, i + chunk).map((d) => ('kind' in d ? toEvent(d) : toMessage(d)));
    const pipeline = redis.pipeline();
    for (const e of part) {
      const fields = isRoomEvent(e) ? ingestEventFields(e) : ingestEntryFields(e);
      pipeline.eval(PRODUCE_LUA, 2, keys.roomLog(e.room), keys.ingestStreamOfRoom(e.room), ...fields);
    }
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([err, id], j) => {
      if (err) throw err;
      const e = part[j]!;
      e.id = String(id);
      e.ts = Number(e.id.split('-')[0]);
      out.push(e);
    });
  }
  return out;
}

let cidSeq = 0;
function toMessage(d: Draft): ChatMessage {
  const m: ChatMessage = {
    id: '',
    room: d.room,
    user: { id: d.uid ?? 'u1', name: d.name ?? 'alice' },
    text: d.text ?? `hello ${cidSeq}`,
    ts: 0,
    cid: d.cid ?? `c${++cidSeq}`,
  };
  if (d.replyTo !== undefined) m.replyTo = d.replyTo;
  return m;
}

function toEvent(d: EventDraft): RoomEvent {
  const base = { id: '', room: d.room, user: { id: d.uid ?? 'u1', name: d.name ?? 'alice' }, ts: 0, cid: d.cid ?? `e${++cidSeq}`, target: d.target };
  if (d.kind === 'edit') return { ...base, kind: 'edit', text: d.text ?? `edited ${cidSeq}` };
  if (d.kind === 'react') return { ...base, kind: 'react', emoji: d.emoji ?? '👍', on: d.on ?? true };
  return d.replyTo === undefined ? { ...base, kind: 'delete' } : { ...base, kind: 'delete', replyTo: d.replyTo };
}

/** `count` drafts spread round-robin over `rooms`. */
export function drafts(count: number, rooms: readonly string[], text = (i: number) => `message ${i}`): Draft[] {
  return Array.from({ length: count }, (_, i) => ({ room: rooms[i % rooms.length]!, uid: `u${i % 7}`, name: `user${i % 7}`, text: text(i) }));
}

/** Raw XADD of arbitrary fields to a partition's ingest stream (for poison entries). */
export async function addRawEntry(redis: Redis, keys: Keys, partition: number, fields: string[]): Promise<string> {
  return (await redis.xadd(keys.ingestStream(partition), '*', ...fields)) as string;
}

export function tempDir(prefix = 'aurora-ingest-'): { dir: string; dbPath: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, dbPath: join(dir, 'aurora.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The same SQLite file the workers write, opened in this process. */
export async function openStore(dbPath: string): Promise<Store> {
  const config = loadConfig('ingestion', { SQLITE_PATH: dbPath, LOG_LEVEL: 'silent', NODE_ENV: 'test' });
  return createStore(config, createLogger({ ...config, prettyLogs: false }));
}

export function startWorker(env: {
  redisUrl: string;
  dbPath: string;
  partitions: number;
  consumer?: string;
  extra?: Record<string, string>;
}): Promise<RunningService> {
  return startService('ingestion', {
    REDIS_URL: env.redisUrl,
    SQLITE_PATH: env.dbPath,
    PARTITIONS: String(env.partitions),
    LOG_LEVEL: 'info',
    ...(env.consumer ? { INGEST_CONSUMER: env.consumer } : {}),
    ...env.extra,
  });
}

/** Every stored message of a room, oldest first (paged through messagesAfter). */
export async function storedMessages(store: Store, room: string): Promise<ChatMessage[]> {
  const all: ChatMessage[] = [];
  let after = '0-0';
  for (;;) {
    const page = await store.messagesAfter(room, after, 1000);
    all.push(...page);
    if (page.length < 1000) return all;
    after = page[page.length - 1]!.id;
  }
}

/** Sum of messageCount over `rooms` (cheap progress probe). */
export async function storedCount(store: Store, rooms: readonly string[]): Promise<number> {
  let n = 0;
  for (const r of rooms) n += (await store.getRoom(r))?.messageCount ?? 0;
  return n;
}

/**
 * Asserts exactly-once storage: per room, the stored ids are the sent ids, each once, in
 * numeric id order, and the room's messageCount matches. Returns a problem description or null.
 */
export async function exactlyOnceProblems(store: Store, sent: readonly ChatMessage[]): Promise<string | null> {
  const byRoom = new Map<string, ChatMessage[]>();
  for (const m of sent) {
    const list = byRoom.get(m.room);
    if (list) list.push(m);
    else byRoom.set(m.room, [m]);
  }
  for (const [room, expected] of byRoom) {
    const stored = await storedMessages(store, room);
    const ids = stored.map((m) => m.id);
    if (new Set(ids).size !== ids.length) return `${room}: duplicate ids stored`;
    for (let i = 1; i < ids.length; i++) {
      if (compareIds(ids[i - 1]!, ids[i]!) >= 0) return `${room}: ids out of order at ${i}`;
    }
    const want = [...expected].sort((a, b) => compareIds(a.id, b.id));
    if (ids.length !== want.length) return `${room}: stored ${ids.length}, sent ${want.length}`;
    for (let i = 0; i < want.length; i++) {
      const s = stored[i]!;
      const w = want[i]!;
      if (s.id !== w.id || s.text !== w.text || s.user.id !== w.user.id || s.cid !== w.cid || s.ts !== w.ts) {
        return `${room}: message ${i} differs: ${JSON.stringify(s)} vs ${JSON.stringify(w)}`;
      }
    }
    const info = await store.getRoom(room);
    if (info?.messageCount !== want.length) return `${room}: messageCount ${info?.messageCount}, expected ${want.length}`;
  }
  return null;
}

/** Pending entries of the ingestion group per consumer, summed over every stream. */
export async function pendingByConsumer(redis: Redis, keys: Keys): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const stream of keys.allIngestStreams()) {
    const summary = (await redis.xpending(stream, INGEST_GROUP).catch(() => [0, null, null, null])) as [
      number, string | null, string | null, [string, string][] | null,
    ];
    for (const [consumer, n] of summary[3] ?? []) out.set(consumer, (out.get(consumer) ?? 0) + Number(n));
  }
  return out;
}

export async function totalPending(redis: Redis, keys: Keys): Promise<number> {
  let n = 0;
  for (const v of (await pendingByConsumer(redis, keys)).values()) n += v;
  return n;
}

/**
 * True when the group has been handed every entry ever added to every ingest stream and has
 * acked them all (last-delivered-id = the stream's last-generated-id, nothing pending): the
 * end of a run whose entries were all written up front, whoever stored them.
 */
export async function allAcked(redis: Redis, keys: Keys): Promise<boolean> {
  for (const stream of keys.allIngestStreams()) {
    const info = fieldRecord(((await redis.xinfo('STREAM', stream).catch(() => null)) as string[] | null) ?? []);
    const groups = ((await redis.xinfo('GROUPS', stream).catch(() => [])) as string[][]).map((g) => fieldRecord(g));
    const group = groups.find((g) => g.name === INGEST_GROUP);
    if (info['last-generated-id'] === undefined) continue; // never written
    if (!group || group['last-delivered-id'] !== info['last-generated-id'] || Number(group.pending) !== 0) return false;
  }
  return true;
}

export async function totalLength(redis: Redis, keys: Keys): Promise<number> {
  let n = 0;
  for (const stream of keys.allIngestStreams()) n += await redis.xlen(stream);
  return n;
}

/** Every entry of a dead-letter stream, as field records (reason, entryId, stream, … original fields). */
export async function deadLetters(redis: Redis, stream: string): Promise<Record<string, string>[]> {
  const rows = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
  return rows.map(([, f]) => fieldRecord(f));
}

/** The reason the trigger of rejectPoisonInStore gives; the worker reports `store rejected: <this>`. */
export const POISON_REASON = 'rejected by test trigger';

/**
 * A store that is up but refuses particular messages: a SQLite trigger on the shared file aborts
 * every insert of a message whose text starts with 'poison'. Returns the function that lifts it.
 */
export function rejectPoisonInStore(dbPath: string): () => void {
  const exec = (sql: string) => execSql(dbPath, sql);
  exec(`CREATE TRIGGER reject_poison BEFORE INSERT ON messages WHEN NEW.text LIKE 'poison%'
        BEGIN SELECT RAISE(ABORT, '${POISON_REASON}'); END`);
  return () => exec('DROP TRIGGER reject_poison');
}

/**
 * A store that is up but refuses particular EVENTS: a trigger aborts the insert of any event
 * whose cid starts with 'poison' (store-sqlite-schema.ts: every applied event is a row of
 * `events`). Returns the function that lifts it.
 */
export function rejectPoisonEventsInStore(dbPath: string): () => void {
  const exec = (sql: string) => execSql(dbPath, sql);
  exec(`CREATE TRIGGER reject_poison_events BEFORE INSERT ON events WHEN NEW.cid LIKE 'poison%'
        BEGIN SELECT RAISE(ABORT, '${POISON_REASON}'); END`);
  return () => exec('DROP TRIGGER reject_poison_events');
}

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cli dead-letters <args>` (services/cli/) as its own process against a test Redis. */
export function deadLettersTool(env: { redisUrl: string; partitions: number }, ...args: string[]): Promise<ToolRun> {
  return runCli(['dead-letters', ...args], { REDIS_URL: env.redisUrl, PARTITIONS: String(env.partitions) });
}

/** Runs SQL on the shared SQLite file from this process (the workers have it open too: WAL). */
function execSql(dbPath: string, sql: string): void {
  const db = new Database(dbPath);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

export { keysFor, INGEST_GROUP };
