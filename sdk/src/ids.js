// Message ids are the room log's Redis stream ids, `<ms>-<seq>`. One id is used live, in the
// store, in history and for resume, so every comparison goes through here: numerically (ms,
// then seq), never as strings ("9-0" < "10-0" although "9-0" > "10-0" as text). The server
// uses this module too (services/shared/ids.ts): client and server agree on what an id is.

const ID_RE = /^(\d{1,16})-(\d{1,16})$/;
// Comparing is lenient where accepting is not: a seq past 2^53 still orders right (BigInt).
const PARSE_RE = /^(\d{1,16})-(\d{1,20})$/;

/**
 * Both parts must be at most 2^53 - 1: Redis allows 64-bit parts, but the MongoDB store keeps
 * them as doubles, so a larger part could not round-trip exactly. Real ids are far below it.
 */
export function isMessageId(id) {
  if (typeof id !== 'string') return false;
  const m = ID_RE.exec(id);
  return m !== null && Number(m[1]) <= Number.MAX_SAFE_INTEGER && Number(m[2]) <= Number.MAX_SAFE_INTEGER;
}

export function parseId(id) {
  const m = PARSE_RE.exec(id);
  if (!m) throw new Error(`not a message id: ${id}`);
  return { ms: Number(m[1]), seq: BigInt(m[2]) };
}

/** Negative when a < b, positive when a > b, 0 when equal. */
export function compareIds(a, b) {
  const x = parseId(a);
  const y = parseId(b);
  if (x.ms !== y.ms) return x.ms < y.ms ? -1 : 1;
  return x.seq === y.seq ? 0 : x.seq < y.seq ? -1 : 1;
}

/** Server time (ms) of an id. */
export function idTime(id) {
  return parseId(id).ms;
}

/** Inserts `id` into `ids` (ascending) unless present; appending is the common case. */
export function insertSorted(ids, id) {
  if (ids.length === 0 || compareIds(ids[ids.length - 1], id) < 0) {
    ids.push(id);
    return;
  }
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareIds(ids[mid], id) < 0) lo = mid + 1;
    else hi = mid;
  }
  if (ids[lo] !== id) ids.splice(lo, 0, id);
}

/** A client message id (cid): the idempotency key the server dedups re-sends by. */
export function newCid() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
