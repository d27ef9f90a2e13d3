// Presence status — online, away, dnd, offline — and last seen (DESIGN.md "Per-user channel and
// attention"). Chat replicas write one small HASH per user (keys.userStatus; chat/user-status.ts);
// this module is how anyone reads it: one HMGET per user, pipelined, no room is ever scanned. It
// is pulled when a member list or the room list is read, not pushed: a status flip in a room of
// 10,000 would be 10,000 frames (the presence-events rule), and join/leave is pushed already.
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { eachCommand } from './redis.js';

export type PresenceStatus = 'online' | 'away' | 'dnd' | 'offline';
export const PRESENCE_STATUSES: readonly PresenceStatus[] = ['online', 'away', 'dnd', 'offline'];

export interface UserPresence {
  status: PresenceStatus;
  /** ms: the last activity or disconnect seen; absent when the user was never seen (or long ago). */
  lastSeen?: number;
}

/**
 * The HASH fields, as HMGET returns them: on, act, aw, seen, and dnd — a copy of the store's
 * users.dnd written by PUT /api/me/status (the store stays the truth the notifier reads; a Redis
 * that lost its data shows DND users as online until they set it again).
 */
export type StatusFields = [on: string | null, act: string | null, aw: string | null, seen: string | null, dnd: string | null];
export const STATUS_FIELDS = ['on', 'act', 'aw', 'seen', 'dnd'] as const;

/**
 * Status from the hash: offline unless a replica vouches for a socket (`on` in the future); then
 * dnd when the user chose it, away when a device said so or nothing happened for awayMs, else online.
 */
export function presenceOf(f: StatusFields, now: number, awayMs: number): UserPresence {
  const [on, act, aw, seen, dnd] = f.map((v) => (v === null ? undefined : Number(v)));
  const last = Math.max(act ?? 0, seen ?? 0);
  const out: UserPresence = { status: 'offline' };
  if (last > 0) out.lastSeen = last;
  if (on === undefined || on <= now) return out;
  out.status = dnd === 1 ? 'dnd' : aw === 1 || act === undefined || now - act > awayMs ? 'away' : 'online';
  return out;
}

/** Each user's presence, one pipelined HMGET each (per master on a Cluster). */
export async function readPresence(redis: Redis, keys: Keys, userIds: Iterable<string>, awayMs: number): Promise<Map<string, UserPresence>> {
  const ids = [...new Set(userIds)];
  const out = new Map<string, UserPresence>();
  if (ids.length === 0) return out;
  const results = await eachCommand(redis, ids, (c, id) => c.hmget(keys.userStatus(id), ...STATUS_FIELDS));
  const now = Date.now();
  ids.forEach((id, i) => {
    const [err, fields] = results[i] ?? [new Error('no reply'), null];
    if (err) throw err;
    out.set(id, presenceOf(fields as StatusFields, now, awayMs));
  });
  return out;
}

/** Writes the DND copy (PUT /api/me/status): the store's flag is set by the caller first. */
export async function setPresenceDnd(redis: Redis, keys: Keys, userId: string, dnd: boolean): Promise<void> {
  if (dnd) await redis.hset(keys.userStatus(userId), 'dnd', '1');
  else await redis.hdel(keys.userStatus(userId), 'dnd');
}
