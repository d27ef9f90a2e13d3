// Pub/sub self-probe: a subscriber connection can be silently dead (a proxy dropped it, a
// failover left it subscribed to nothing) while PING on the main connection still answers.
// Every PROBE_INTERVAL_MS the replica publishes to its private channels on the main connection
// and expects each message back on the subscriber: the classic channel (user channels and
// revocations ride classic pub/sub) and one shard channel per partition — room channels are
// sharded, and on a Redis Cluster each master serves its partitions' shard channels over its
// own subscriber connection, so each is probed. When any has not come back for PROBE_STALE_MS,
// /readyz turns red (the check below) so the load balancer stops sending new clients here.
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { eachCommand } from '../shared/redis.js';
import type { Fanout } from './fanout.js';

export const PROBE_INTERVAL_MS = 1000;
export const PROBE_STALE_MS = 5000;

export class PubSubProbe {
  private classicSeen = 0;
  /** Per partition: when its shard probe last came back (0: never). */
  private readonly shardSeen: number[];
  private timer: NodeJS.Timeout | null = null;
  private readonly channel: string;
  private readonly shardChannels: string[];

  constructor(
    private readonly redis: Redis,
    private readonly fanout: Fanout,
    keys: Keys,
    replicaId: string,
    private readonly log: Logger,
  ) {
    this.channel = keys.probeChannel(replicaId);
    this.shardChannels = fanout.shardProbeChannels();
    this.shardSeen = this.shardChannels.map(() => 0);
  }

  start(): void {
    this.fanout
      .subscribeProbe((_payload, partition) => {
        if (partition === null) this.classicSeen = Date.now();
        else this.shardSeen[partition] = Date.now();
      })
      .catch((err: Error) => this.log.error({ err: err.message }, 'probe subscribe failed'));
    const tick = () => {
      // A shard probe late by more than two rounds: its subscription may not have followed a slot
      // move (fanout.refreshShards); /readyz turns red only later, at PROBE_STALE_MS.
      const late = Date.now() - 2.5 * PROBE_INTERVAL_MS;
      if (this.shardSeen.some((seen) => seen > 0 && seen < late)) this.fanout.refreshShards();
      const now = String(Date.now());
      this.redis.publish(this.channel, now).catch(() => {
        /* the readiness check reports it */
      });
      // one write per master (a single node: one pipeline)
      eachCommand(this.redis, this.shardChannels, (c, channel) => c.spublish(channel, now)).catch(() => {});
      this.timer = setTimeout(tick, PROBE_INTERVAL_MS);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Readiness check: throws when a probe has not come back recently. */
  check(): void {
    const now = Date.now();
    if (this.classicSeen === 0) throw new Error('pub/sub probe not seen yet');
    if (now - this.classicSeen > PROBE_STALE_MS) throw new Error(`pub/sub probe not seen for ${now - this.classicSeen} ms`);
    const stale = this.shardSeen.flatMap((seen, p) => (now - seen > PROBE_STALE_MS ? [p] : []));
    if (stale.length > 0) {
      const never = stale.every((p) => this.shardSeen[p] === 0);
      throw new Error(`sharded pub/sub probe of partition(s) ${stale.join(',')} ${never ? 'not seen yet' : `not seen for ${PROBE_STALE_MS}+ ms`}`);
    }
  }
}
