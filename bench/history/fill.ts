// The history benchmark's data (bench/history.bench.ts): one SQLite file holding two rooms with
// the same TOP top-level messages (same ids, authors, texts):
// - `plain`: nothing else — a wave-1 room, the anchor;
// - `busy`: the same messages plus thread replies interleaved by id, and room events applied
//   through the store: reactions (some toggled off again), edits, deletes of messages and of
//   replies.
// Everything goes in through the store's own API (insertMessages / applyEvents, batches of
// BATCH), so the rows, the thread counters and the indexes are exactly what ingestion writes.
// A seeded PRNG makes the file the same on every machine. Filling 1,000,000 messages takes a
// minute or two, so the file is cached under .data/bench (BENCH_HISTORY_DIR), named by the size
// and a hash of the parameters and of the SQLite store's schema and write code: a change there
// makes a new file. It is written under a temporary name and renamed when complete, so an
// interrupted fill is never reused.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatMessage, RoomEvent } from '../../services/shared/message.js';
import { pino } from 'pino';
import { openSqliteStore } from '../../services/shared/store/store-sqlite.js';
import { mulberry32 } from '../../test/helpers/prng.js';

export interface FillParams {
  /** Top-level messages in each room. */
  top: number;
  /** Share of top-level messages (busy room) with reactions. */
  reacted: number;
  /** Share of top-level messages that start a thread (1..MAX_REPLIES replies). */
  threads: number;
  edited: number;
  deleted: number;
}

export const PLAIN = 'plain';
export const BUSY = 'busy';
export const USERS = 50;
const EMOJI = ['👍', '❤️', '😂', '🎉', '👀', '🚀', '🙏', '😮'];
const MAX_REPLIES = 10;
/** Share of reactions switched off again (their rows stay, inactive: the tally must skip them). */
const TOGGLED_OFF = 0.1;
const DELETED_REPLIES = 0.05;
const BATCH = 5000;
const CHUNK = 10_000;
const BASE_MS = 1_700_000_000_000;

/** The id of the i-th top-level message (the same in both rooms). */
export const topId = (i: number) => `${BASE_MS + i * 4}-0`;
/** Reply j of parent i: after its parent, among the next top-level messages. */
const replyId = (i: number, j: number) => `${BASE_MS + (i + 1 + j) * 4 + 1}-${i}`;


const user = (u: number) => ({ id: `u${u}`, name: `user${u}` });
const filler = 'about eighty characters of ordinary chat text, the length of a typical message.';

function message(room: string, id: string, u: number, n: number, replyTo?: string): ChatMessage {
  const m: ChatMessage = { id, room, user: user(u), text: `message ${n}: ${filler}`, ts: Number(id.split('-')[0]), cid: `c${n}` };
  if (replyTo !== undefined) m.replyTo = replyTo;
  return m;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const SOURCES = ['store-sqlite-schema.ts', 'store-sqlite-messages.ts'].map((f) => join(here, '../../services/shared/store', f));

export function cachePath(p: FillParams): string {
  const dir = process.env.BENCH_HISTORY_DIR ?? join(here, '../../.data/bench');
  const h = createHash('sha256').update(JSON.stringify(p));
  for (const f of SOURCES) h.update(readFileSync(f));
  return join(dir, `history-${p.top}-${h.digest('hex').slice(0, 12)}.db`);
}

/** The cached file for `p`, made first when missing. Returns its path and whether it was made now. */
export async function historyDb(p: FillParams, log: (l: string) => void): Promise<{ path: string; filled: boolean; seconds: number }> {
  const path = cachePath(p);
  if (existsSync(path)) return { path, filled: false, seconds: 0 };
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true });
  // Older files of the same size (another schema or parameters) are dead weight.
  const prefix = `history-${p.top}-`;
  for (const f of readdirSync(dir)) if (f.startsWith(prefix) && join(dir, f) !== path) rmSync(join(dir, f), { force: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const t0 = performance.now();
  try {
    await fill(tmp, p, log);
    if (existsSync(`${tmp}-wal`) && statSync(`${tmp}-wal`).size > 0) throw new Error('WAL not checkpointed after close');
    for (const ext of ['-wal', '-shm']) rmSync(`${tmp}${ext}`, { force: true });
    renameSync(tmp, path);
  } catch (err) {
    for (const ext of ['', '-wal', '-shm']) rmSync(`${tmp}${ext}`, { force: true });
    throw err;
  }
  return { path, filled: true, seconds: (performance.now() - t0) / 1000 };
}

async function fill(path: string, p: FillParams, log: (l: string) => void): Promise<void> {
  const store = await openSqliteStore(path, pino({ level: 'silent' }));
  const rnd = mulberry32(13);
  let eventMs = BASE_MS + (p.top + MAX_REPLIES + 10) * 4;
  const nextEventId = () => `${eventMs++}-0`;
  const counts = { replies: 0, reactions: 0, edits: 0, deletes: 0 };
  const flush = async (msgs: ChatMessage[], evs: RoomEvent[]) => {
    for (let i = 0; i < msgs.length; i += BATCH) await store.insertMessages(msgs.slice(i, i + BATCH));
    for (let i = 0; i < evs.length; i += BATCH) await store.applyEvents(evs.slice(i, i + BATCH));
  };
  try {
    for (let start = 0; start < p.top; start += CHUNK) {
      const end = Math.min(p.top, start + CHUNK);
      const plain: ChatMessage[] = [];
      const busy: ChatMessage[] = [];
      const events: RoomEvent[] = [];
      const ev = (target: string, u: number, change: { kind: 'edit'; text: string } | { kind: 'delete'; replyTo?: string } | { kind: 'react'; emoji: string; on: boolean }) => {
        const id = nextEventId();
        events.push({ id, room: BUSY, user: user(u), ts: Number(id.split('-')[0]), cid: `e${id}`, target, ...change } as RoomEvent);
      };
      for (let i = start; i < end; i++) {
        const author = Math.floor(rnd() * USERS);
        const id = topId(i);
        plain.push(message(PLAIN, id, author, i));
        busy.push(message(BUSY, id, author, i));
        if (rnd() < p.threads) {
          const n = 1 + Math.floor(rnd() * MAX_REPLIES);
          for (let j = 0; j < n; j++) {
            const ru = Math.floor(rnd() * USERS);
            const rid = replyId(i, j);
            busy.push(message(BUSY, rid, ru, i * 100 + j, id));
            counts.replies++;
            if (rnd() < DELETED_REPLIES) {
              ev(rid, ru, { kind: 'delete', replyTo: id });
              counts.deletes++;
            }
          }
        }
        if (rnd() < p.reacted) {
          const emojiCount = 1 + Math.floor(rnd() * 3);
          for (let e = 0; e < emojiCount; e++) {
            const emoji = EMOJI[Math.floor(rnd() * EMOJI.length)]!;
            const users = 1 + Math.floor(rnd() * 5);
            for (let k = 0; k < users; k++) {
              const ru = Math.floor(rnd() * USERS);
              ev(id, ru, { kind: 'react', emoji, on: true });
              counts.reactions++;
              if (rnd() < TOGGLED_OFF) ev(id, ru, { kind: 'react', emoji, on: false });
            }
          }
        }
        if (rnd() < p.edited) {
          ev(id, author, { kind: 'edit', text: `message ${i}, edited: ${filler}` });
          counts.edits++;
        }
        if (rnd() < p.deleted) {
          ev(id, author, { kind: 'delete' });
          counts.deletes++;
        }
      }
      await flush(plain, []);
      await flush(busy, events);
      if (end % 250_000 === 0 || end === p.top) log(`  filled ${end} / ${p.top} top-level messages`);
    }
  } finally {
    await store.close();
  }
  log(
    `filled: ${p.top} top-level messages per room; busy room also ${counts.replies} replies, ` +
      `${counts.reactions} reactions, ${counts.edits} edits, ${counts.deletes} deletes (events applied through store.applyEvents)`,
  );
}
