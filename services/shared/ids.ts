// Message ids are the room log's Redis stream ids, `<ms>-<seq>`. One id is used live, in the
// store, in history and for resume, so every comparison goes through here: numerically (ms,
// then seq), never as strings ("9-0" < "10-0" although "9-0" > "10-0" as text).

const ID_RE = /^(\d{1,16})-(\d{1,16})$/;

/**
 * Both parts must be at most 2^53 - 1: Redis allows 64-bit unsigned parts, but the MongoDB
 * store keeps them as doubles and the client compares them as numbers, so a larger part could
 * not round-trip exactly (and once reached the stores as a 500). Real ids are far below it (ms
 * is a Unix time, seq counts within one ms). Every id from a client — `since`, `before` — and
 * from the ingest stream is checked here, so bad ones are a 400 / bad_request at the edge.
 */
export function isMessageId(id: unknown): id is string {
  if (typeof id !== 'string') return false;
  const m = ID_RE.exec(id);
  return m !== null && Number(m[1]) <= Number.MAX_SAFE_INTEGER && Number(m[2]) <= Number.MAX_SAFE_INTEGER;
}

export function parseId(id: string): { ms: number; seq: bigint } {
  const m = ID_RE.exec(id);
  if (!m) throw new Error(`not a message id: ${id}`);
  return { ms: Number(m[1]), seq: BigInt(m[2]!) };
}

/** Negative when a < b, positive when a > b, 0 when equal. */
export function compareIds(a: string, b: string): number {
  const x = parseId(a);
  const y = parseId(b);
  if (x.ms !== y.ms) return x.ms < y.ms ? -1 : 1;
  return x.seq === y.seq ? 0 : x.seq < y.seq ? -1 : 1;
}

/** A fixed-width string that sorts like the id (for stores that index strings). */
export function idSortKey(id: string): string {
  const { ms, seq } = parseId(id);
  return `${String(ms).padStart(16, '0')}-${seq.toString().padStart(20, '0')}`;
}

/** Milliseconds part of an id: the server timestamp of the message. */
export function idTime(id: string): number {
  return parseId(id).ms;
}
