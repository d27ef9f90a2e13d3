// Reading a room's recent messages for `join` (DESIGN.md: "Join must be race-free").
// The caller (connection.ts) subscribes first and buffers live frames; this module reads the
// room log with a bounded XRANGE/XREVRANGE; mergeLive() then drops buffered messages the backlog
// already holds, so the client sees every message once and in id order.
//
// Resume with `since`: the log still holds `since` when first id <= since <= last id (read in
// one MULTI); then every entry after it (at most RECOVERY_MAX) is returned with recovered:true.
// Otherwise — trimmed past it, emptied by a Redis restart or expiry, `since` newer than the
// log, or more than RECOVERY_MAX missed — the latest JOIN_HISTORY with recovered:false, and the
// client pages REST history.
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import { compareIds } from '../shared/ids.js';
import type { Keys } from '../shared/keys.js';
import { messageFromLogEntry, type ChatMessage } from '../shared/message.js';

type StreamEntry = [id: string, fields: string[]];


export interface Backlog {
  messages: ChatMessage[];
  recovered: boolean;
  /** The room log's newest id when it was read (undefined: empty log); Fanout's baseline. */
  lastId?: string | undefined;
}

export async function readBacklog(
  redis: Redis,
  keys: Keys,
  config: Pick<Config, 'JOIN_HISTORY' | 'RECOVERY_MAX'>,
  room: string,
  since?: string,
): Promise<Backlog> {
  const log = keys.roomLog(room);
  const latest = async (): Promise<Backlog> => {
    const rev = (await redis.xrevrange(log, '+', '-', 'COUNT', Math.max(1, config.JOIN_HISTORY))) as StreamEntry[];
    const lastId = rev[0]?.[0];
    const messages = config.JOIN_HISTORY === 0 ? [] : rev.reverse().map((e) => messageFromLogEntry(room, e[0], e[1]));
    return { messages, recovered: false, lastId };
  };
  if (since === undefined) return latest();

  // One atomic snapshot (MULTI): the first entry, the last entry and everything after `since`.
  // A trim (XADD MAXLEN ~) between separate reads could otherwise make "first <= since" true
  // for a log whose entries right after `since` are already gone.
  const res = await redis
    .multi()
    .xrange(log, '-', '+', 'COUNT', 1)
    .xrevrange(log, '+', '-', 'COUNT', 1)
    .xrange(log, `(${since}`, '+', 'COUNT', config.RECOVERY_MAX + 1)
    .exec();
  if (!res) throw new Error('transaction aborted');
  for (const [err] of res) if (err) throw err;
  const first = (res[0]![1] as StreamEntry[])[0];
  const last = (res[1]![1] as StreamEntry[])[0];
  const after = res[2]![1] as StreamEntry[];
  // The log holds `since` only when since lies within [first, last]: a `since` newer than the
  // newest entry comes from another log (emptied by a restart, expired, or a bogus id) and
  // would otherwise become a cutoff that silently drops live messages.
  const holdsSince =
    first !== undefined && last !== undefined && compareIds(first[0], since) <= 0 && compareIds(since, last[0]) <= 0;
  if (holdsSince && after.length <= config.RECOVERY_MAX) {
    return { messages: after.map((e) => messageFromLogEntry(room, e[0], e[1])), recovered: true, lastId: last[0] };
  }
  return latest();
}

export interface BufferedFrame {
  data: Buffer;
  /** Message id for `message` frames; undefined for presence/typing. */
  id?: string;
}

/**
 * Live frames buffered during the backlog read, minus messages at or before `cutoff` (the
 * backlog's last id, or `since` when the backlog was empty but complete). Presence and typing
 * frames have no id and always pass.
 */
export function mergeLive(cutoff: string | undefined, buffered: BufferedFrame[]): BufferedFrame[] {
  if (cutoff === undefined) return buffered;
  return buffered.filter((f) => f.id === undefined || compareIds(f.id, cutoff) > 0);
}
