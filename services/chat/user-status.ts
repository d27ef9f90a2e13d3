// The replica's side of presence status (shared/user-status.ts reads it): per user with a socket
// here, it keeps the user's status HASH (keys.userStatus) true — `on` refreshed every
// PRESENCE_TTL_SEC/3 while a socket is open (a crashed replica's users go offline within the TTL),
// `act` on activity (throttled: one write per user per ACTIVITY_WRITE_MS here), `aw` when a
// device says "away", `seen` when the last socket here closes. Writes are fire-and-forget: a
// status is a hint, a frame never waits for it.
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { eachCommand } from '../shared/redis.js';

/** At most one `act` write per user per this (ms), per replica: activity is a minute-scale signal. */
export const ACTIVITY_WRITE_MS = 15_000;
/** How long a status hash outlives its user's last connection: "last seen" up to a month ago. */
const KEEP_SEC = 30 * 86_400;
const REFRESH_CHUNK = 500;

interface Local {
  sockets: number;
  /** When `act` was last written from here. */
  wroteAt: number;
  /** A device here said away: the next activity is written at once. */
  away: boolean;
}

export class UserStatusTracker {
  private readonly local = new Map<string, Local>();
  private readonly ttlMs: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
    config: Pick<Config, 'PRESENCE_TTL_SEC'>,
  ) {
    this.ttlMs = config.PRESENCE_TTL_SEC * 1000;
  }

  connected(userId: string): void {
    const l = this.local.get(userId);
    if (l) {
      l.sockets++;
      return this.activity(userId);
    }
    const now = Date.now();
    this.local.set(userId, { sockets: 1, wroteAt: now, away: false });
    const key = this.keys.userStatus(userId);
    this.write(this.redis.multi().hset(key, 'on', now + this.ttlMs, 'act', now).hdel(key, 'aw').expire(key, KEEP_SEC));
  }

  disconnected(userId: string): void {
    const l = this.local.get(userId);
    if (!l || --l.sockets > 0) return;
    this.local.delete(userId);
    // `on` = now: offline at once for a user with one device; a replica holding another socket of
    // theirs vouches again at its next refresh (a blink of at most PRESENCE_TTL_SEC/3).
    const now = Date.now();
    this.write(this.redis.hset(this.keys.userStatus(userId), 'on', now, 'seen', now));
  }

  /** A frame that shows a person is there (anything but heartbeats and reads). */
  activity(userId: string): void {
    const l = this.local.get(userId);
    if (!l) return;
    const now = Date.now();
    if (!l.away && now - l.wroteAt < ACTIVITY_WRITE_MS) return;
    l.wroteAt = now;
    l.away = false;
    const key = this.keys.userStatus(userId);
    this.write(this.redis.multi().hset(key, 'act', now).hdel(key, 'aw'));
  }

  /** The client's `status` frame: `away` (idle, tab hidden) or `online` (back). */
  set(userId: string, status: 'online' | 'away'): void {
    const l = this.local.get(userId);
    if (!l) return;
    if (status === 'online') {
      l.away = true; // forces the write
      return this.activity(userId);
    }
    l.away = true;
    this.write(this.redis.hset(this.keys.userStatus(userId), 'aw', '1'));
  }

  /** Vouches for every user with a socket here until now + TTL. */
  async refresh(): Promise<void> {
    const until = Date.now() + this.ttlMs;
    const ids = [...this.local.keys()];
    for (let i = 0; i < ids.length; i += REFRESH_CHUNK) {
      await eachCommand(this.redis, ids.slice(i, i + REFRESH_CHUNK), (c, id) => c.hset(this.keys.userStatus(id), 'on', until));
    }
  }

  start(): void {
    const every = Math.max(500, Math.floor(this.ttlMs / 3));
    this.timer = setInterval(() => {
      this.refresh().catch((err: Error) => this.log.warn({ err: err.message }, 'status refresh failed'));
    }, every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private write(cmd: { exec(): Promise<unknown> } | Promise<unknown>): void {
    const p = 'exec' in cmd ? cmd.exec() : cmd;
    p.catch((err: Error) => this.log.warn({ err: err.message }, 'status write failed'));
  }
}
