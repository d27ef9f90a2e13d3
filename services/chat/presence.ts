// Presence: who is in a room, across replicas. One Redis ZSET per room (keys.presence), member
// `<userId>|<name>`, score = expiry time in ms. This replica refreshes the expiry of its local
// members every PRESENCE_TTL_SEC/3, so a crashed replica's members vanish within the TTL: the
// sweep run by every replica with local members removes expired entries (ZREM decides which
// replica announces the leave, so it is announced once). Join/leave events travel on the room
// channel like messages, so members on every replica see them. A user with several sockets in
// a room (on this replica) is one member.
//
// Known limit: a user present in the same room through two different replicas is one ZSET
// member; when one replica's last socket leaves, the member is removed and re-added by the
// other replica's next refresh (a spurious leave, no join event).
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { ChatUser } from '../shared/message.js';

const memberOf = (u: ChatUser) => `${u.id}|${u.name}`;

export function parseMember(m: string): ChatUser {
  const i = m.indexOf('|');
  return i < 0 ? { id: m, name: m } : { id: m.slice(0, i), name: m.slice(i + 1) };
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

export function presenceFrame(room: string, event: 'join' | 'leave', user: ChatUser): string {
  return JSON.stringify({ type: 'presence', room, event, user: { id: user.id, name: user.name } });
}

export class Presence {
  /** room -> userId -> local socket count and name */
  private readonly local = new Map<string, Map<string, { user: ChatUser; sockets: number }>>();
  private timer: NodeJS.Timeout | null = null;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
    config: Pick<Config, 'PRESENCE_TTL_SEC'>,
  ) {
    this.ttlMs = config.PRESENCE_TTL_SEC * 1000;
  }

  /** Registers a socket of `user` in `room`; announces the user when new; returns the members. */
  async join(room: string, user: ChatUser): Promise<ChatUser[]> {
    let users = this.local.get(room);
    if (!users) this.local.set(room, (users = new Map()));
    const entry = users.get(user.id);
    if (entry) entry.sockets++;
    else users.set(user.id, { user, sockets: 1 });

    const key = this.keys.presence(room);
    const now = Date.now();
    const member = memberOf(user);
    const res = await this.redis
      .multi()
      .zscore(key, member)
      .zadd(key, now + this.ttlMs, member)
      .zrangebyscore(key, now, '+inf')
      .exec();
    if (!res) throw new Error('presence transaction aborted');
    for (const [err] of res) if (err) throw err;
    const prev = res[0]![1] as string | null;
    if (prev === null || Number(prev) < now) {
      await this.redis.publish(this.keys.roomChannel(room), presenceFrame(room, 'join', user));
    }
    return uniqueMembers(res[2]![1] as string[]);
  }

  /** Current members (unexpired), one entry per user. */
  async members(room: string): Promise<ChatUser[]> {
    return uniqueMembers(await this.redis.zrangebyscore(this.keys.presence(room), Date.now(), '+inf'));
  }

  /** Unregisters a socket; the user's last local socket in the room removes and announces it. */
  async leave(room: string, user: ChatUser): Promise<void> {
    const users = this.local.get(room);
    const entry = users?.get(user.id);
    if (!users || !entry) return;
    if (--entry.sockets > 0) return;
    users.delete(user.id);
    if (users.size === 0) this.local.delete(room);
    const removed = await this.redis.zrem(this.keys.presence(room), memberOf(user));
    if (removed > 0) await this.redis.publish(this.keys.roomChannel(room), presenceFrame(room, 'leave', user));
  }

  /** Refreshes the expiry of every local member and sweeps expired ones in local rooms. */
  async refresh(): Promise<void> {
    if (this.local.size === 0) return;
    const now = Date.now();
    const pipe = this.redis.pipeline();
    for (const [room, users] of this.local) {
      const key = this.keys.presence(room);
      for (const { user } of users.values()) pipe.zadd(key, now + this.ttlMs, memberOf(user));
      pipe.pexpire(key, this.ttlMs * 2);
    }
    await pipe.exec();
    const rooms = [...this.local.keys()];
    const sweep = this.redis.pipeline();
    for (const room of rooms) sweep.zrangebyscore(this.keys.presence(room), '-inf', now);
    const found = (await sweep.exec()) ?? [];
    for (let i = 0; i < rooms.length; i++) {
      const room = rooms[i]!;
      const key = this.keys.presence(room);
      const [err, expired] = found[i] ?? [null, []];
      if (err) throw err;
      for (const m of expired as string[]) {
        if ((await this.redis.zrem(key, m)) > 0) {
          await this.redis.publish(this.keys.roomChannel(room), presenceFrame(room, 'leave', parseMember(m)));
        }
      }
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
