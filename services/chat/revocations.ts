// Ends revoked sessions on this replica (services/shared/sessions.ts): a logout or a detected
// refresh-token theft publishes the session id on one channel; every socket of that session
// closes with 4001 at once, on every replica. A replica whose subscriber was reconnecting missed
// the publish, so after every re-subscription it re-checks the sessions of its sockets against
// the revoked set in Redis (one pipeline) — a missed revocation costs a reconnect, not 15 min —
// and so it does when the main connection is ready again (handshakes admitted while Redis was
// down skipped their check). A socket accepted while its revocation was being published is
// checked against the revocations this replica heard recently (no second Redis call).
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { revokedSessions } from '../shared/sessions.js';
import type { Fanout } from './fanout.js';

export interface SessionSocket {
  /** The session of the socket's current token (undefined: a token minted outside a session). */
  readonly sid: string | undefined;
  endSession(): void;
}

/** How long a revocation heard on the channel is remembered locally (see recentlyRevoked). */
const RECENT_MS = 60_000;

export class Revocations {
  /** sid -> when it was revoked: closes the race of a socket accepted during its publish. */
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly fanout: Fanout,
    private readonly sockets: () => Iterable<SessionSocket>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.fanout
      .subscribeControl(this.keys.sessionRevocations(), {
        onMessage: (sid) => this.end(new Set([sid])),
        onResubscribed: () => void this.recheck(),
      })
      .catch((err: Error) => this.log.error({ err: err.message }, 'revocation channel subscribe failed'));
    // The main connection's outage is when handshakes were admitted unchecked (server.ts), and
    // the subscriber may have stayed up through it: re-check when it is back too.
    this.redis.on('ready', () => void this.recheck());
  }

  /** Re-reads the revoked set for every local session (after a subscriber outage). */
  async recheck(): Promise<void> {
    const sids = new Set<string>();
    for (const s of this.sockets()) if (s.sid !== undefined) sids.add(s.sid);
    try {
      const revoked = await revokedSessions(this.redis, this.keys, [...sids]);
      if (revoked.size > 0) this.end(revoked);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'revocation re-check failed; the next reconnect retries');
    }
  }

  /**
   * True for a session revoked on the channel within RECENT_MS. A handshake or an in-band `auth`
   * whose Redis check answered "not revoked" just before the publish arrived checks this too:
   * the publish found no socket of that session to close yet.
   */
  recentlyRevoked(sid: string | undefined): boolean {
    return sid !== undefined && this.recent.has(sid);
  }

  private end(sids: Set<string>): void {
    const now = Date.now();
    for (const [sid, at] of this.recent) {
      if (now - at < RECENT_MS) break; // insertion order is time order
      this.recent.delete(sid);
    }
    for (const sid of sids) {
      this.recent.delete(sid);
      this.recent.set(sid, now);
    }
    let closed = 0;
    for (const s of this.sockets()) {
      if (s.sid !== undefined && sids.has(s.sid)) {
        s.endSession();
        closed++;
      }
    }
    if (closed > 0) this.log.info({ sockets: closed }, 'session revoked: sockets closed with 4001');
  }
}
