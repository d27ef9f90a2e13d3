// Presence: who is in a room, across replicas. One Redis ZSET per room (keys.presence), one
// entry per user AND replica — `<userId>|<name>|<replicaId>`, score = expiry time in ms. This
// replica refreshes the expiry of its local entries every PRESENCE_TTL_SEC/3, so a crashed
// replica's entries vanish within the TTL: the sweep run by every replica with local members
// removes expired entries. Every change goes through lua/presence.lua, which also decides and
// publishes the events atomically (it keeps a second ZSET, keys.presenceIndex, with the same
// members at score 0, so "is this user live on another replica?" is one ZRANGEBYLEX and no
// call reads the whole room): `join` when a user's first live entry appears, `leave` when
// its last one goes (so a user connected through two replicas gets no leave while one socket
// remains, and a still-connected member swept after a Redis outage longer than the TTL is
// announced again when its replica re-adds it). Events travel on the room channel like
// messages, so members on every replica see them. A user with several sockets in a room on
// this replica is one entry. Rooms with more than PRESENCE_EVENTS_MAX_MEMBERS entries announce
// nothing (each event would reach every member: O(members²) frames when many join at once).
// Member lists are capped at MEMBER_LIST_MAX entries, sweeps at
// SWEEP_MAX expired entries per script call (a bigger sweep is several calls, so Redis serves
// other clients in between).
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { ChatUser } from '../shared/message.js';

const PRESENCE_LUA = readFileSync(new URL('./lua/presence.lua', import.meta.url), 'utf8');

type PresenceCommand = (key: string, index: string, ...argv: (string | number)[]) => Promise<unknown>;

/** At most this many entries in a member list (`joined`): a bounded read in a huge room. */
export const MEMBER_LIST_MAX = 1000;
/** At most this many expired entries removed (and announced) per script call (~7 µs each). */
export const SWEEP_MAX = 200;
/** Sweep calls per room per refresh tick at most (the rest waits for the next tick). */
const SWEEP_ROUNDS = 50;
/** Local entries refreshed per script call (~5 µs each), so no call holds Redis for long. */
const REFRESH_CHUNK = 250;

/** An entry `<userId>|<name>|<replicaId>` (or `<userId>|<name>` from older replicas). */
export function parseMember(m: string): ChatUser {
  const i = m.indexOf('|');
  if (i < 0) return { id: m, name: m };
  const rest = m.slice(i + 1);
  const j = rest.indexOf('|');
  return { id: m.slice(0, i), name: j < 0 ? rest : rest.slice(0, j) };
}

function uniqueMembers(raw: string[]): ChatUser[] {
  const seen = new Set<string>();
  const members: ChatUser[] = [];
  for (const m of raw) {
    const u = parseMember(m);
    if (!seen.has(u.id)) {
      seen.add(u.id);
      members.push(u);
    }
  }
  return members;
}


export class Presence {
  /** room -> userId -> local socket count and name */
  private readonly local = new Map<string, Map<string, { user: ChatUser; sockets: number }>>();
  private timer: NodeJS.Timeout | null = null;
  private readonly ttlMs: number;
  private readonly replicaId: string;
  private readonly run: PresenceCommand;
  private readonly memberListMax: number;
  private readonly sweepMax: number;
  private readonly eventsMax: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
    config: Pick<Config, 'PRESENCE_TTL_SEC' | 'PRESENCE_EVENTS_MAX_MEMBERS' | 'replicaId'>,
    limits: { memberListMax?: number; sweepMax?: number } = {},
  ) {
    this.ttlMs = config.PRESENCE_TTL_SEC * 1000;
    this.replicaId = config.replicaId;
    this.eventsMax = config.PRESENCE_EVENTS_MAX_MEMBERS;
    this.memberListMax = limits.memberListMax ?? MEMBER_LIST_MAX;
    this.sweepMax = limits.sweepMax ?? SWEEP_MAX;
    redis.defineCommand('auroraPresence', { numberOfKeys: 2, lua: PRESENCE_LUA });
    this.run = (redis as unknown as { auroraPresence: PresenceCommand }).auroraPresence.bind(redis);
  }

  private entry(u: ChatUser): string {
    return `${u.id}|${u.name}|${this.replicaId}`;
  }

  private call(op: 'join' | 'leave' | 'refresh', room: string, entries: string[], now = Date.now()): Promise<unknown> {
    const limit = op === 'join' ? this.memberListMax : this.sweepMax;
    return this.run(this.keys.presence(room), this.keys.presenceIndex(room), op, this.keys.roomChannel(room), room, now, now + this.ttlMs, this.ttlMs * 2, limit, this.eventsMax, ...entries);
  }

  /** Registers a socket of `user` in `room`; announces the user when new; returns the members. */
  async join(room: string, user: ChatUser): Promise<ChatUser[]> {
    let users = this.local.get(room);
    if (!users) this.local.set(room, (users = new Map()));
    const entry = users.get(user.id);
    if (entry) entry.sockets++;
    else users.set(user.id, { user, sockets: 1 });
    const members = uniqueMembers((await this.call('join', room, [this.entry(user)])) as string[]);
    // a capped list of a huge room may not reach the newest entry: the joiner is a member
    if (!members.some((m) => m.id === user.id)) members.push({ id: user.id, name: user.name });
    return members;
  }

  /** Current members (unexpired), one entry per user, at most MEMBER_LIST_MAX entries read. */
  async members(room: string): Promise<ChatUser[]> {
    return uniqueMembers(await this.redis.zrangebyscore(this.keys.presence(room), Date.now(), '+inf', 'LIMIT', 0, this.memberListMax));
  }

  /** Unregisters a socket; the user's last local socket removes this replica's entry. */
  async leave(room: string, user: ChatUser): Promise<void> {
    const users = this.local.get(room);
    const entry = users?.get(user.id);
    if (!users || !entry) return;
    if (--entry.sockets > 0) return;
    users.delete(user.id);
    if (users.size === 0) this.local.delete(room);
    await this.call('leave', room, [this.entry(user)]);
  }

  /** Refreshes the expiry of every local entry and sweeps expired ones in local rooms. */
  async refresh(): Promise<void> {
    if (this.local.size === 0) return;
    const now = Date.now();
    const rooms = [...this.local];
    const results = await Promise.allSettled(
      rooms.map(([room, users]) => this.refreshRoom(room, [...users.values()].map(({ user }) => this.entry(user)), now)),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason as Error;
  }

  /** Refreshes a room's local entries (REFRESH_CHUNK per call) and sweeps its expired ones
   * (SWEEP_MAX per call): many short script calls rather than one long one. */
  private async refreshRoom(room: string, entries: string[], now: number): Promise<void> {
    let more = 0;
    for (let i = 0; i === 0 || i < entries.length; i += REFRESH_CHUNK) {
      [, more] = (await this.call('refresh', room, entries.slice(i, i + REFRESH_CHUNK), now)) as [number, number];
    }
    for (let round = 1; more === 1 && round < SWEEP_ROUNDS; round++) {
      [, more] = (await this.call('refresh', room, [])) as [number, number];
    }
  }

  start(): void {
    const every = Math.max(500, Math.floor(this.ttlMs / 3));
    const tick = () => {
      this.refresh()
        .catch((err: Error) => this.log.warn({ err: err.message }, 'presence refresh failed'))
        .finally(() => {
          if (!this.timer) return;
          this.timer = setTimeout(tick, every + Math.floor(Math.random() * 100));
          this.timer.unref();
        });
    };
    this.timer = setTimeout(tick, every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
