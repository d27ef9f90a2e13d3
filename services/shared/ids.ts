// Message ids are the room log's Redis stream ids, `<ms>-<seq>`. One id is used live, in the
// store, in history and for resume, so every comparison goes through here: numerically (ms,
// then seq), never as strings ("9-0" < "10-0" although "9-0" > "10-0" as text).

// The id rules are the client SDK's (sdk/src/ids.js): browser, bots and server agree on what an
// id is. Both parts must be at most 2^53 - 1: the MongoDB store keeps them as doubles and the
// client compares them as numbers. Every id from a client — `since`, `before` — and from the
// ingest stream is checked with isMessageId, so bad ones are a 400 / bad_request at the edge.
import { compareIds, idTime, isMessageId, parseId } from '../../sdk/src/ids.js';

export { compareIds, idTime, isMessageId, parseId };

/** A fixed-width string that sorts like the id (for stores that index strings). */
export function idSortKey(id: string): string {
  const { ms, seq } = parseId(id);
  return `${String(ms).padStart(16, '0')}-${seq.toString().padStart(20, '0')}`;
}
