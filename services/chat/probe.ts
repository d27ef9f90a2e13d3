// Pub/sub self-probe: a subscriber connection can be silently dead (a proxy dropped it, a
// failover left it subscribed to nothing) while PING on the main connection still answers.
// Every PROBE_INTERVAL_MS the replica publishes to its private channel on the main connection
// and expects the message back on the subscriber; when none came back for PROBE_STALE_MS,
// /readyz turns red (the check below) so the load balancer stops sending new clients here.
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { Fanout } from './fanout.js';

export const PROBE_INTERVAL_MS = 1000;
export const PROBE_STALE_MS = 5000;

export class PubSubProbe {
  private lastSeen = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly channel: string;

  constructor(
    private readonly redis: Redis,
    private readonly fanout: Fanout,
    keys: Keys,
    replicaId: string,
    private readonly log: Logger,
  ) {
    this.channel = keys.probeChannel(replicaId);
  }

  start(): void {
    this.fanout
      .subscribeProbe(() => {
        this.lastSeen = Date.now();
      })
      .catch((err: Error) => this.log.error({ err: err.message }, 'probe subscribe failed'));
    const tick = () => {
      this.redis.publish(this.channel, String(Date.now())).catch(() => {
        /* the readiness check reports it */
      });
      this.timer = setTimeout(tick, PROBE_INTERVAL_MS);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Readiness check: throws when the probe has not come back recently. */
  check(): void {
    const age = Date.now() - this.lastSeen;
    if (this.lastSeen === 0) throw new Error('pub/sub probe not seen yet');
    if (age > PROBE_STALE_MS) throw new Error(`pub/sub probe not seen for ${age} ms`);
  }
}
