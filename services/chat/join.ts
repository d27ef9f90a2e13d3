// Reading a room's recent messages for `join` (DESIGN.md: "Join must be race-free").
// The caller (connection.ts) subscribes first and buffers live frames; this module reads the
// room log with a bounded XRANGE/XREVRANGE; mergeLive() then drops buffered messages the backlog
// already holds, so the client sees every message once and in id order.
//
// Resume with `since`: the log still holds `since` when its first entry id <= since; then every
// entry after it (at most RECOVERY_MAX) is returned with recovered:true. Otherwise — trimmed
// past it, emptied by a Redis restart, or more than RECOVERY_MAX missed — the latest
// JOIN_HISTORY with recovered:false, and the client pages REST history.
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import { compareIds, idTime } from '../shared/ids.js';
import type { Keys } from '../shared/keys.js';
import type { ChatMessage } from '../shared/message.js';

type StreamEntry = [id: string, fields: string[]];

export function entryToMessage(room: string, [id, fields]: StreamEntry): ChatMessage {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  return { id, room, user: { id: f.uid ?? '', name: f.name ?? '' }, text: f.text ?? '', ts: idTime(id), cid: f.cid ?? '' };
}

export interface Backlog {
  messages: ChatMessage[];
  recovered: boolean;
}

export async function readBacklog(
  redis: Redis,
  keys: Keys,
  config: Pick<Config, 'JOIN_HISTORY' | 'RECOVERY_MAX'>,
  room: string,
  since?: string,
): Promise<Backlog> {
  const log = keys.roomLog(room);
  const latest = async (): Promise<ChatMessage[]> => {
    if (config.JOIN_HISTORY === 0) return [];
    const rev = (await redis.xrevrange(log, '+', '-', 'COUNT', config.JOIN_HISTORY)) as StreamEntry[];
    return rev.reverse().map((e) => entryToMessage(room, e));
  };
  if (since === undefined) return { messages: await latest(), recovered: false };

  const res = await redis
    .pipeline()
    .xrange(log, '-', '+', 'COUNT', 1)
    .xrange(log, `(${since}`, '+', 'COUNT', config.RECOVERY_MAX + 1)
    .exec();
  if (!res) throw new Error('pipeline aborted');
  for (const [err] of res) if (err) throw err;
  const first = (res[0]![1] as StreamEntry[])[0];
  const after = res[1]![1] as StreamEntry[];
  const holdsSince = first !== undefined && compareIds(first[0], since) <= 0;
  if (holdsSince && after.length <= config.RECOVERY_MAX) {
    return { messages: after.map((e) => entryToMessage(room, e)), recovered: true };
  }
  return { messages: await latest(), recovered: false };
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
