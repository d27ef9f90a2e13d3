// The subscriber's replica-wide channels, beside the room channels fanout.ts manages: the pub/sub
// probes (the classic one and one shard channel per partition, probe.ts) and the control
// channels (session revocations, user channels: classic pub/sub, subscribed for as long as their
// owner wants them). Fan-out routes every incoming message here first (dispatch).
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';

export interface ControlHandlers {
  onMessage: (payload: string) => void;
  /** After each re-subscription: what was published while the subscriber was down is lost, re-read. */
  onResubscribed?: () => void;
}

export type ProbeHandler = (payload: string, partition: number | null) => void;

/** refreshShards() at most this often. */
const SHARD_REFRESH_MIN_MS = 3000;

export class ReplicaChannels {
  readonly probeChannel: string;
  /** Shard probe channel → its partition (each master carrying rooms is probed on its own). */
  private readonly shardProbes = new Map<string, number>();
  private probeHandler: ProbeHandler | null = null;
  /** Cluster: shard probes are ioredis' to re-subscribe after the first SSUBSCRIBE. */
  private shardProbesSubscribed = false;
  /** Cluster: a topology change at this time may have moved the classic subscriber (mayHaveMissed). */
  private suspectSince = 0;
  private readonly controls = new Map<string, ControlHandlers>();
  private lastShardRefresh = 0;

  constructor(
    private readonly sub: Redis,
    keys: Keys,
    replicaId: string,
    private readonly log: Logger,
  ) {
    this.probeChannel = keys.probeChannel(replicaId);
    for (let p = 0; p < keys.partitions; p++) this.shardProbes.set(keys.shardProbeChannel(p, replicaId), p);
  }

  async subscribeProbe(handler: ProbeHandler): Promise<void> {
    this.probeHandler = handler;
    // Not ready yet: the 'ready' handler subscribes it (a SUBSCRIBE written before the
    // connection's handshake finished is what loses subscriptions in ioredis 5, issue #2037).
    if (this.sub.status === 'ready') await Promise.all([this.sub.subscribe(this.probeChannel), this.subscribeShardProbes()]);
  }

  shardProbeChannels(): string[] {
    return [...this.shardProbes.keys()];
  }

  async subscribeControl(channel: string, handlers: ControlHandlers): Promise<void> {
    this.controls.set(channel, handlers);
    if (this.sub.status === 'ready') await this.sub.subscribe(channel);
  }

  async unsubscribeControl(channel: string): Promise<void> {
    if (!this.controls.delete(channel)) return;
    if (this.sub.status === 'ready') await this.sub.unsubscribe(channel);
  }

  /** The classic channels to subscribe again on a 'ready'. */
  classicChannels(): string[] {
    return [this.probeChannel, ...this.controls.keys()];
  }

  /** Every control re-reads its state (after a re-subscription). */
  resubscribed(): void {
    for (const c of this.controls.values()) c.onResubscribed?.();
  }

  subscribeShardProbes(): Promise<unknown> {
    // On a Cluster ioredis keeps them across failovers and slot moves (fanout.ts shardsReset): once is enough.
    if (this.sub.isCluster && this.shardProbesSubscribed) return Promise.resolve();
    this.shardProbesSubscribed = true;
    return ssubscribeAll(this.sub, this.shardProbeChannels());
  }

  /** Cluster 'ready': the classic channels again (the shard channels are ioredis' to restore). */
  clusterReady(): void {
    this.sub
      .subscribe(...this.classicChannels())
      .then(() => this.resubscribed())
      .catch((err: Error) => this.log.error({ err: err.message }, 're-subscribe of the classic channels failed'));
    this.subscribeShardProbes().catch((err: Error) => this.log.error({ err: err.message }, 'shard probe subscribe failed'));
  }

  /**
   * Cluster: classic channels ride ONE subscriber connection to some node, which ioredis moves to
   * another node when its node goes — re-subscribing there by itself, without an event. Frames
   * published in between are lost: after a topology change the controls re-read their state, as
   * after a 'ready', as soon as a probe published after the change came back (live again).
   */
  mayHaveMissed(): void {
    this.suspectSince = Date.now();
  }

  /**
   * Cluster, after ioredis re-subscribed its shard channels: one more SSUBSCRIBE of each
   * partition's probe channel travels behind ioredis' own on that shard's connection, so its reply
   * proves those before it were taken. Resolves with the partitions not confirmed within `ms`
   * (a shard subscriber stuck connecting): their rooms resync instead of waiting for ever.
   */
  async confirmShards(partitions: number[], ms: number): Promise<Set<number>> {
    const channels = this.shardProbeChannels();
    const confirm = (p: number) =>
      new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms);
        this.sub.ssubscribe(channels[p]!).then(resolve, reject).finally(() => clearTimeout(timer));
      });
    const settled = await Promise.allSettled(partitions.map(confirm));
    return new Set(partitions.filter((_, i) => settled[i]!.status === 'rejected'));
  }

  /**
   * Cluster: a partition's shard probe stopped coming back. ioredis moves the shard
   * subscriptions only when ITS client sees the topology change — after a slot migration the
   * subscriber client, which sends no keyed command, would learn it at its next periodic refresh
   * at best. A refresh now re-subscribes the moved channels on their new master (and fanout.ts
   * shardsReset recovers what was published meanwhile). At most once per SHARD_REFRESH_MIN_MS.
   */
  refreshShards(): void {
    if (!this.sub.isCluster || Date.now() - this.lastShardRefresh < SHARD_REFRESH_MIN_MS) return;
    this.lastShardRefresh = Date.now();
    this.log.warn('a shard probe stopped coming back: refreshing the cluster topology of the subscriber');
    (this.sub as unknown as { refreshSlotsCache(cb?: (err?: Error | null) => void): void }).refreshSlotsCache();
  }

  /** Handles `channel` if it is one of these; false for a room channel. */
  dispatch(channel: string, payload: string): boolean {
    if (channel === this.probeChannel) {
      if (this.suspectSince > 0 && Number(payload) > this.suspectSince) {
        this.suspectSince = 0;
        this.resubscribed();
      }
      this.probeHandler?.(payload, null);
      return true;
    }
    const partition = this.shardProbes.get(channel);
    if (partition !== undefined) {
      this.probeHandler?.(payload, partition);
      return true;
    }
    const control = this.controls.get(channel);
    if (!control) return false;
    control.onMessage(payload);
    return true;
  }
}

/** SSUBSCRIBE of channels, on a Cluster one command each (a command's channels share a slot). */
export function ssubscribeAll(sub: Redis, channels: string[]): Promise<unknown> {
  if (channels.length === 0) return Promise.resolve();
  if (!sub.isCluster) return sub.ssubscribe(...channels);
  return Promise.all(channels.map((c) => sub.ssubscribe(c)));
}
