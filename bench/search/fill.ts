// The search benchmark's data (bench/search.bench.ts): one SQLite file of N messages of chat-like
// text across public rooms, private rooms and DMs, written through the store's own API
// (applyMembershipEvents, insertMessages in batches), so the rows, the FTS index and its triggers
// are exactly what ingestion writes.
//
// Text: 4–24 words drawn from a Zipf-distributed vocabulary (s = 1) of VOCABULARY made-up words
// (some accented), so a word's frequency falls with its rank as in real text: rank 1 is in a
// large share of the messages, rank 10,000 in a few dozen. One viewer (`u0`) is a member of half
// of the private rooms, banned from two public rooms, and in some of the DMs: the readable-room
// filter has work to do.
//
// Cached under .data/bench (BENCH_SEARCH_DIR), named by the size and a hash of the parameters and
// of the SQLite store's schema and write code; written under a temporary name and renamed when
// complete (as bench/history/fill.ts).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { MembershipLogEntry } from '../../services/shared/membership.js';
import type { ChatMessage } from '../../services/shared/message.js';
import { dmRoomName } from '../../services/shared/rooms.js';
import { openSqliteStore } from '../../services/shared/store/store-sqlite.js';
import type { Store } from '../../services/shared/store/store.js';
import { mulberry32 } from '../../test/helpers/prng.js';

export const VOCABULARY = 30_000;
export const USERS = 200;
export const VIEWER = 'u0';
export const PUBLIC_ROOMS = Array.from({ length: 40 }, (_, i) => `pub-${i}`);
export const BANNED_ROOMS = PUBLIC_ROOMS.slice(0, 2);
export const PRIVATE_ROOMS = Array.from({ length: 40 }, (_, i) => `p:${`priv${i}`.padEnd(16, 'x')}`);
export const DM_ROOMS = Array.from({ length: 20 }, (_, i) => dmRoomName(`u${i % 2 === 0 ? 0 : 199}`, `u${i + 1}`));
const BATCH = 1000;
const BASE_MS = 1_700_000_000_000;

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vo', 'shi', 'den', 'par', 'gu', 'fe', 'zo', 'bri', 'stel', 'mon', 'qui', 'ré', 'çà', 'ül'];

/** The word of rank r (1-based): distinct, pronounceable, a few with accents. */
export function word(r: number): string {
  let n = r;
  let w = '';
  do {
    w += SYLLABLES[n % SYLLABLES.length];
    n = Math.floor(n / SYLLABLES.length);
  } while (n > 0);
  return w;
}

/** Draws Zipf ranks (1..VOCABULARY) from a uniform source. */
export function zipf(rnd: () => number): () => number {
  const cdf = new Float64Array(VOCABULARY);
  let sum = 0;
  for (let r = 1; r <= VOCABULARY; r++) cdf[r - 1] = sum += 1 / r;
  return () => {
    const x = rnd() * sum;
    let lo = 0;
    let hi = VOCABULARY - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/** A room for message i: 80% public, 15% private, 5% DMs. */
function roomOf(rnd: () => number): string {
  const x = rnd();
  const pick = (list: string[]) => list[Math.floor(rnd() * list.length)]!;
  return x < 0.8 ? pick(PUBLIC_ROOMS) : x < 0.95 ? pick(PRIVATE_ROOMS) : pick(DM_ROOMS);
}

/** Messages [from, to) of the stream seeded `seed` (ids after `idBase`). */
export function messages(from: number, to: number, seed: number, idBase = BASE_MS): ChatMessage[] {
  const rnd = mulberry32(seed + from);
  const rank = zipf(rnd);
  const out: ChatMessage[] = [];
  for (let i = from; i < to; i++) {
    const n = 4 + Math.floor(rnd() * 21);
    const words: string[] = [];
    for (let k = 0; k < n; k++) words.push(word(rank()));
    if (rnd() < 0.1) words[0] = words[0]![0]!.toUpperCase() + words[0]!.slice(1);
    const u = Math.floor(rnd() * USERS);
    const id = `${idBase + i}-0`;
    const room = roomOf(rnd);
    const dm = room.startsWith('dm:') ? room.split(':') : null;
    const author = dm ? dm[1 + Math.floor(rnd() * 2)]! : `u${u}`;
    out.push({ id, room, user: { id: author, name: `user${author.slice(1)}` }, text: `${words.join(' ')}${rnd() < 0.3 ? '!' : '.'}`, ts: idBase + i, cid: `c${i}` });
  }
  return out;
}

/** Who is in which private room, and the viewer's bans: as member.lua would have appended them. */
function membership(): MembershipLogEntry[] {
  const out: MembershipLogEntry[] = [];
  let t = BASE_MS - 1_000_000;
  const owner = { id: 'u199', name: 'user199' };
  const viewer = { id: VIEWER, name: 'user0' };
  for (const [i, room] of PRIVATE_ROOMS.entries()) {
    const base = { room, user: owner, cid: `m${t}` };
    out.push({ ...base, id: `${t++}-0`, ts: t, kind: 'room', action: 'created', roomKind: 'private', title: `Private ${i}`, topic: '' });
    out.push({ ...base, id: `${t++}-0`, ts: t, kind: 'member', action: 'joined', member: owner, role: 'owner' });
    if (i % 2 === 0) out.push({ ...base, id: `${t++}-0`, ts: t, kind: 'member', action: 'invited', member: viewer, role: 'member' });
  }
  for (const room of BANNED_ROOMS) {
    out.push({ room, user: owner, cid: `b${t}`, id: `${t++}-0`, ts: t, kind: 'member', action: 'banned', member: viewer, banned: true });
  }
  return out;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const SOURCES = ['store-sqlite-schema.ts', 'store-sqlite-messages.ts', 'store-sqlite-search.ts'].map((f) => join(here, '../../services/shared/store', f));

function cachePath(total: number): string {
  const dir = process.env.BENCH_SEARCH_DIR ?? join(here, '../../.data/bench');
  const h = createHash('sha256').update(JSON.stringify({ total, VOCABULARY, USERS, v: 1 }));
  for (const f of [...SOURCES, fileURLToPath(import.meta.url)]) h.update(readFileSync(f));
  return join(dir, `search-${total}-${h.digest('hex').slice(0, 12)}.db`);
}

/** Writes messages [from, to) into `store` in batches of BATCH. */
export async function insertRange(store: Store, from: number, to: number, seed: number, idBase?: number): Promise<void> {
  for (let i = from; i < to; i += 10 * BATCH) {
    const chunk = messages(i, Math.min(to, i + 10 * BATCH), seed, idBase);
    for (let k = 0; k < chunk.length; k += BATCH) await store.insertMessages(chunk.slice(k, k + BATCH));
  }
}

/** The cached file of `total` messages, made first when missing. */
export async function searchDb(total: number, log: (l: string) => void): Promise<{ path: string; filled: boolean; seconds: number }> {
  const path = cachePath(total);
  if (existsSync(path)) return { path, filled: false, seconds: 0 };
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true });
  const prefix = `search-${total}-`;
  for (const f of readdirSync(dir)) if (f.startsWith(prefix) && join(dir, f) !== path) rmSync(join(dir, f), { force: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const t0 = performance.now();
  try {
    const store = await openSqliteStore(tmp, pino({ level: 'silent' }));
    try {
      await store.applyMembershipEvents(membership());
      for (let i = 0; i < total; i += 100_000) {
        await insertRange(store, i, Math.min(total, i + 100_000), 1);
        log(`  filled ${Math.min(total, i + 100_000)} / ${total} messages`);
      }
    } finally {
      await store.close();
    }
    for (const ext of ['-wal', '-shm']) rmSync(`${tmp}${ext}`, { force: true });
    renameSync(tmp, path);
  } catch (err) {
    for (const ext of ['', '-wal', '-shm']) rmSync(`${tmp}${ext}`, { force: true });
    throw err;
  }
  return { path, filled: true, seconds: (performance.now() - t0) / 1000 };
}
