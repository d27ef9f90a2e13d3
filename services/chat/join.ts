// Reading a room's recent entries — messages and the events that changed them — for `join`
// (DESIGN.md: "Join must be race-free"). The caller (connection.ts) subscribes first and holds
// live frames (live-gate.ts); this module reads the room log with a bounded XRANGE/XREVRANGE;
// the gate then drops held frames the backlog already holds, so the client sees every entry
// once and in id order. Events count like messages (JOIN_HISTORY, RECOVERY_MAX, bytes): a resume
// with `since` replays the edits, deletes and reactions it missed.
//
// Resume with `since`: the log still holds `since` when first id <= since <= last id; then every
// entry after it is returned with recovered:true — when there are at most RECOVERY_MAX of them
// and they fit in `maxBytes`. Otherwise — trimmed past it, emptied by a Redis restart or
// expiry, `since` newer than the log, more than RECOVERY_MAX missed, or more bytes than fit —
// the latest JOIN_HISTORY that fit in `maxBytes`, with recovered:false, and the client pages
// REST history.
//
// Bounded in bytes (REPLY_MAX_BYTES, issue 12): 500 messages of 4,000 control characters are
// ~11.5 MB of JSON, once per joining socket. The log is read NEWEST first in chunks of
// READ_CHUNK entries, each message serialized once as it is picked (its JSON is what the
// `joined` frame is assembled from, see joinedFrame), until a bound is hit: a reply never
// holds more than maxBytes of messages, and a read never holds more than a chunk beyond it.
// Newest first is also what the fallback wants: the newest messages that fit.
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import { compareIds } from '../shared/ids.js';
import type { Keys } from '../shared/keys.js';
import { isChatMessage, logEntryOf, type ChatMessage, type LogEntry } from '../shared/message.js';
import { logEntryFrame } from './frames.js';

type StreamEntry = [id: string, fields: string[]];


export interface Backlog {
  messages: ChatMessage[];
  /** JSON.stringify of each message, same order: the `joined` frame is assembled from these. */
  json: string[];
  /** The events among the entries, oldest first, and their frames (joined.events). */
  events: LogEntry[];
  eventJson: string[];
  /** The newest entry picked (message or event): what the client has after this reply. */
  newestId?: string | undefined;
  recovered: boolean;
  /** The room log's newest id when it was read (undefined: empty log); Fanout's baseline. */
  lastId?: string | undefined;
}

/** Entries per XRANGE/XREVRANGE of a join: a read holds at most this many beyond the byte bound. */
export const READ_CHUNK = 50;

/** A message as `joined.messages` carries it: the log's fields, and the thread count a reply had. */
function joinedMessageJson(m: ChatMessage, replyCount: number | undefined): string {
  return JSON.stringify(replyCount === undefined ? m : { ...m, replyCount });
}

/** Entries picked newest first, with their JSON and its bytes (one comma each included). */
class Picked {
  private readonly picked: { id: string; message?: ChatMessage; event?: LogEntry; json: string }[] = [];
  private bytes = 0;
  constructor(
    private readonly room: string,
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.picked.length;
  }

  /** Adds entries (newest first); false as soon as one does not fit (count or bytes). */
  add(entries: StreamEntry[]): boolean {
    for (const [id, fields] of entries) {
      if (this.picked.length >= this.maxCount) return false;
      const record = logEntryOf(this.room, id, fields);
      const e = record.entry;
      // Messages as `joined.messages` carries them; every event (message changes, membership
      // and room changes) as the frame its script published.
      const json = isChatMessage(e) ? joinedMessageJson(e, 'replyCount' in record ? record.replyCount : undefined) : logEntryFrame(this.room, id, fields).json;
      const b = Buffer.byteLength(json, 'utf8') + 1;
      if (this.bytes + b > this.maxBytes) return false;
      this.bytes += b;
      this.picked.push(isChatMessage(e) ? { id, message: e, json } : { id, event: e, json });
    }
    return true;
  }

  oldestId(): string | undefined {
    return this.picked.at(-1)?.id;
  }

  /** Oldest first, as `joined` carries them. */
  backlog(recovered: boolean, lastId: string | undefined): Backlog {
    const b: Backlog = { messages: [], json: [], events: [], eventJson: [], newestId: this.picked[0]?.id, recovered, lastId };
    for (let i = this.picked.length - 1; i >= 0; i--) {
      const p = this.picked[i]!;
      if (p.message) {
        b.messages.push(p.message);
        b.json.push(p.json);
      } else {
        b.events.push(p.event!);
        b.eventJson.push(p.json);
      }
    }
    return b;
  }
}

export async function readBacklog(
  redis: Redis,
  keys: Keys,
  config: Pick<Config, 'JOIN_HISTORY' | 'RECOVERY_MAX'>,
  room: string,
  since?: string,
  /** Bytes of message JSON the reply may hold (REPLY_MAX_BYTES minus the rest of the frame). */
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<Backlog> {
  const log = keys.roomLog(room);
  const latest = async (): Promise<Backlog> => {
    const picked = new Picked(room, config.JOIN_HISTORY, maxBytes);
    let lastId: string | undefined;
    let from = '+';
    for (;;) {
      const want = Math.max(1, Math.min(READ_CHUNK, config.JOIN_HISTORY - picked.count));
      const rev = (await redis.xrevrange(log, from, '-', 'COUNT', want)) as StreamEntry[];
      if (from === '+') lastId = rev[0]?.[0];
      if (!picked.add(rev) || rev.length < want || picked.count >= config.JOIN_HISTORY) break;
      from = `(${picked.oldestId()!}`;
    }
    return picked.backlog(false, lastId);
  };
  if (since === undefined) return latest();

  // One atomic snapshot (MULTI): the first entry, the last entry and the newest chunk after
  // `since`. A trim (XADD MAXLEN ~) between separate reads could otherwise make "first <= since"
  // true for a log whose entries right after `since` are already gone.
  const res = await redis
    .multi()
    .xrange(log, '-', '+', 'COUNT', 1)
    .xrevrange(log, '+', '-', 'COUNT', 1)
    .xrevrange(log, '+', `(${since}`, 'COUNT', READ_CHUNK)
    .exec();
  if (!res) throw new Error('transaction aborted');
  for (const [err] of res) if (err) throw err;
  const first = (res[0]![1] as StreamEntry[])[0];
  const last = (res[1]![1] as StreamEntry[])[0];
  let chunk = res[2]![1] as StreamEntry[];
  // The log holds `since` only when since lies within [first, last]: a `since` newer than the
  // newest entry comes from another log (emptied by a restart, expired, or a bogus id) and
  // would otherwise become a cutoff that silently drops live messages.
  const holdsSince =
    first !== undefined && last !== undefined && compareIds(first[0], since) <= 0 && compareIds(since, last[0]) <= 0;
  if (!holdsSince) return latest();
  const picked = new Picked(room, config.RECOVERY_MAX, maxBytes);
  for (;;) {
    // Over RECOVERY_MAX or over the bytes: not recoverable in one reply.
    if (!picked.add(chunk)) return latest();
    if (chunk.length < READ_CHUNK) return picked.backlog(true, last[0]);
    // More, older: read with the log's first entry in the same MULTI — trimming only removes
    // the oldest entries, so if the log still starts at or before `since` now, nothing between
    // `since` and what was read so far is gone.
    const more = await redis
      .multi()
      .xrange(log, '-', '+', 'COUNT', 1)
      .xrevrange(log, `(${picked.oldestId()!}`, `(${since}`, 'COUNT', READ_CHUNK)
      .exec();
    if (!more) throw new Error('transaction aborted');
    for (const [err] of more) if (err) throw err;
    const head = (more[0]![1] as StreamEntry[])[0];
    if (head === undefined || compareIds(head[0], since) > 0) return latest();
    chunk = more[1]![1] as StreamEntry[];
  }
}

