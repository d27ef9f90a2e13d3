// Message ids are the room log's stream ids, `<ms>-<seq>`. Compare them numerically (ms, then
// seq) — never as strings: "9-0" is older than "10-0" although it sorts after it as text.
// Mirrors services/shared/ids.ts.

const ID_RE = /^(\d{1,16})-(\d{1,19})$/;

export function isMessageId(id) {
  return typeof id === 'string' && ID_RE.test(id);
}

function parse(id) {
  const m = ID_RE.exec(id);
  if (!m) throw new Error(`not a message id: ${id}`);
  return { ms: Number(m[1]), seq: BigInt(m[2]) };
}

/** Negative when a < b, positive when a > b, 0 when equal. */
export function compareIds(a, b) {
  const x = parse(a);
  const y = parse(b);
  if (x.ms !== y.ms) return x.ms < y.ms ? -1 : 1;
  return x.seq === y.seq ? 0 : x.seq < y.seq ? -1 : 1;
}

/** Server time (ms) of a message id. */
export function idTime(id) {
  return parse(id).ms;
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

/** A client message id: the idempotency key the server dedups resends by. */
export function newCid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
