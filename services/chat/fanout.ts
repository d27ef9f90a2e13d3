// Live fan-out across replicas. A replica SSUBSCRIBEs a room's shard channel while it has at least
// one local member in that room and SUNSUBSCRIBEs when the last one leaves (reference counted,
// never a pattern), so Redis egress grows with interested replicas only — and on a Redis Cluster
// only the room's master carries it (sharded pub/sub; classic PUBLISH is broadcast to every
// node). Each published payload is parsed once and framed once (wire.ts): the same WebSocket
// frame bytes go to every local member.
//
// Race safety: subscribe/unsubscribe operations of one room run strictly one after another on
// a per-room promise chain, and each re-checks the member count when it runs, so a join that
// interleaves with the last leave ends subscribed, and add() resolves only once the SSUBSCRIBE
// is confirmed by Redis (join.ts relies on that before it reads the room log).
//
// Subscriber reconnects ("acked ⇒ delivered live to every connected member"): on EVERY 'ready'
// of a single node's subscriber connection — the first one included — the probe channels and
// every subscribed room are subscribed again (ioredis's own autoResubscribe is off: it only
// restores what it recorded, and a connection reset before the first 'ready' records nothing);
// on a Cluster ioredis re-subscribes a shard's channels itself and says so (shardsReset).
// Either way each room remembers the last entry id (message or event) delivered here; once the
// subscription is confirmed, live frames of the room are held back (live-gate.ts, the same
// hold-and-merge a join uses), what the log holds past that id is read back and delivered
// through the normal path (missed-frames.ts: byte-identical to the published frames), then the
// held live frames minus what the log already gave. When that cannot be gap-free (too much
// missed, the log trimmed or lost the id, the read failed or stalled, too many frames held
// meanwhile) the room's local sockets are closed with 1012 and the clients resume with `since`.
import type { Redis } from 'ioredis';
import type { Counter, Histogram } from 'prom-client';
import { compareIds } from '../shared/ids.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { LiveGate } from './live-gate.js';
import { readMissed, RECOVERY_TIMEOUT_MS } from './missed-frames.js';
import { ReplicaChannels, ssubscribeAll, type ControlHandlers, type ProbeHandler } from './replica-channels.js';

/** FanoutOptions.lookbackMs: ids delivered live that a room remembers (skipped by a recovery). */
const RECENT_IDS_MAX = 1024;

import { logIdOf, publishedFrameOf, type PublishedFrame } from './published-frame.js';
import { CloseCode } from './protocol.js';
import { textFrame } from './wire.js';

export type { PublishedFrame } from './published-frame.js';

export interface FanoutMember {
  /**
   * Called for every frame published on a room this member was added to; `data` is the whole
   * WebSocket frame (wire.ts textFrame), built once per message and shared by every member.
   */
  receive(room: string, data: Buffer, frame: PublishedFrame): void;
  /** Closes the member's socket (1012 when live delivery could not be made gap-free). */
  close(code: number, reason: string): void;
}

interface RoomSub {
  members: Set<FanoutMember>;
  subscribed: boolean;
  op: Promise<void>;
  /** Highest log id delivered here (or, before the first, the log's head at the first join). */
  lastId?: string | undefined;
  /** Holds live frames while missed entries are read back after a re-subscribe. */
  gate: LiveGate<PublishedFrame>;
  /** With lookbackMs: the ids delivered live lately (a bounded ring), which a recovery skips. */
  recent?: string[];
  /** The id recovery reads after (lastId when the re-subscribe began). */
  recoverFrom?: string | undefined;
  partition: number;
}

export interface FanoutMetrics {
  framesOut: Counter;
  fanoutLatency: Histogram;
  pubsubBytesIn: Counter;
  pubsubFramesIn: Counter;
}

export interface FanoutOptions {
  /** The main connection (XRANGE of missed messages). */
  redis: Redis;
  /** At most this many missed messages are recovered per room; more: 1012. */
  recoveryMax: number;
  /**
   * At most this many bytes of missed messages are recovered per room (REPLY_MAX_BYTES); more:
   * 1012. Each recovered frame goes to every local member's socket in one turn.
   */
  recoveryMaxBytes?: number;
  /** A recovery read unanswered after this long counts as failed (1012); default 5 s. */
  recoveryTimeoutMs?: number;
  /** REDIS_ACK_REPLICAS on: how far before the last delivered id a recovery reads (missed-frames.ts). */
  lookbackMs?: number;
}


export class Fanout {
  private readonly rooms = new Map<string, RoomSub>();
  private readonly channelRoom = new Map<string, string>();
  /** The probes and control channels (classic pub/sub) on the same subscriber. */
  private readonly channels: ReplicaChannels;
  /** Incremented on every subscriber 'ready'; a recovery of an older epoch gives way. */
  private epoch = 0;

  constructor(
    private readonly sub: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
    private readonly metrics: FanoutMetrics,
    replicaId: string,
    private readonly opts: FanoutOptions,
  ) {
    this.channels = new ReplicaChannels(sub, keys, replicaId, log);
    sub.on('message', (channel: string, payload: string) => this.onMessage(channel, payload));
    sub.on('smessage', (channel: string, payload: string) => this.onMessage(channel, payload));
    sub.on('ready', () => this.resubscribe());
    if (sub.isCluster) {
      // ioredis re-subscribes the shard channels itself (one connection per master) after a
      // failover or a slot move, then says so: what was published meanwhile is read back here.
      sub.on('subscribersReady', () => this.shardsReset());
      for (const event of ['+node', '-node']) sub.on(event, () => this.channels.mayHaveMissed());
    }
  }

  /**
   * Subscribes the replica's private probe channels (probe.ts): the classic one and one shard
   * channel per partition; `partition` is null for the classic one. Re-subscribed on 'ready'.
   */
  subscribeProbe(handler: ProbeHandler): Promise<void> {
    return this.channels.subscribeProbe(handler);
  }

  /** The shard probe channel of every partition (probe.ts publishes to them). */
  shardProbeChannels(): string[] {
    return this.channels.shardProbeChannels();
  }

  /**
   * Subscribes a replica-wide control channel for the replica's life, re-subscribed on every
   * 'ready'; `onResubscribed` runs after each subscription made on a 'ready' (what was published
   * while the subscriber was down is lost: the owner re-reads its state then).
   */
  subscribeControl(channel: string, handlers: ControlHandlers): Promise<void> {
    return this.channels.subscribeControl(channel, handlers);
  }

  /** Ends a control channel subscribed with subscribeControl (user-channels.ts: the user's last socket left). */
  unsubscribeControl(channel: string): Promise<void> {
    return this.channels.unsubscribeControl(channel);
  }

  /** Adds a local member; resolves once the room's channel subscription is live. */
  add(room: string, member: FanoutMember): Promise<void> {
    let r = this.rooms.get(room);
    if (!r) {
      r = { members: new Set(), subscribed: false, op: Promise.resolve(), gate: new LiveGate(), partition: this.keys.partitionOf(room) };
      this.rooms.set(room, r);
      this.channelRoom.set(this.keys.roomChannel(room), room);
    }
    r.members.add(member);
    const state = r;
    state.op = state.op.then(async () => {
      if (state.members.size > 0 && !state.subscribed) {
        await this.sub.ssubscribe(this.keys.roomChannel(room));
        state.subscribed = true;
      }
    });
    // A failed SUBSCRIBE must not poison the chain for later joins.
    const result = state.op;
    state.op = state.op.catch(() => {});
    return result;
  }

  /**
   * A join read the room log up to `headId` (undefined: the log was empty). The first such
   * read is the room's recovery baseline until a live message moves it on.
   */
  seen(room: string, headId: string | undefined): void {
    const r = this.rooms.get(room);
    if (r && r.lastId === undefined) r.lastId = headId ?? '0-0';
  }

  /** Removes a local member; the last one out unsubscribes the room and forgets it. */
  remove(room: string, member: FanoutMember): void {
    const state = this.rooms.get(room);
    if (!state || !state.members.delete(member) || state.members.size > 0) return;
    state.op = state.op
      .then(async () => {
        if (state.members.size > 0) return;
        if (state.subscribed) {
          await this.sub.sunsubscribe(this.keys.roomChannel(room));
          state.subscribed = false;
        }
        // Also when the SUBSCRIBE was rejected (never subscribed): no member, no entry.
        if (state.members.size === 0 && !state.subscribed && this.rooms.get(room) === state) {
          this.rooms.delete(room);
          this.channelRoom.delete(this.keys.roomChannel(room));
        }
      })
      .catch((err: Error) => this.log.warn({ err: err.message, room }, 'unsubscribe failed'));
  }

  /** Rooms with at least one local member (presence refresh, drain). */
  localRooms(): string[] {
    return [...this.rooms].filter(([, r]) => r.members.size > 0).map(([room]) => room);
  }

  /** Number of channels this replica is subscribed to (tests, metrics). */
  subscribedCount(): number {
    let n = 0;
    for (const r of this.rooms.values()) if (r.subscribed) n++;
    return n;
  }

  /** Rooms this replica keeps state for (tests: nothing is left behind). */
  trackedRooms(): number {
    return this.rooms.size;
  }

  /** Holds the live frames of every subscribed room with members until recover() reads the log. */
  private holdSubscribedRooms(): [string, RoomSub][] {
    const rooms: [string, RoomSub][] = [];
    for (const [room, r] of this.rooms) {
      // Not subscribed yet: its first SSUBSCRIBE is queued and its join reads the log after it.
      if (!r.subscribed) continue;
      // No member left: its remove()'s SUNSUBSCRIBE is in flight (or queued behind it on the
      // room's chain) and forgets the room once answered. SSUBSCRIBEd again here it would
      // stay subscribed with no state (see the comment in resubscribe). A member that
      // joins meanwhile re-subscribes through add() once that SUNSUBSCRIBE resolved.
      if (r.members.size === 0) continue;
      if (!r.gate.holding) {
        r.gate.hold();
        r.recoverFrom = r.lastId;
      }
      rooms.push([room, r]);
    }
    return rooms;
  }

  /**
   * A Cluster client (re)connected as a whole: the classic channels are subscribed again here;
   * the shard channels ioredis re-subscribes itself, and the rooms recover as after any shard
   * reset — also when its 'subscribersReady' came first (its recovery gives way to this one).
   */
  private clusterReady(): void {
    this.channels.clusterReady();
    this.shardsReset();
  }

  /**
   * The subscriber connection (a single node's; a Cluster's as a whole) is ready: everything is
   * subscribed again — a single node's connection lost every subscription with the old socket —
   * and the rooms recover what was published meanwhile. On a Cluster the room channels are
   * ioredis' to re-subscribe (its sharded subscriber group keeps them, shardsReset recovers).
   */
  private resubscribe(): void {
    if (this.sub.isCluster) return this.clusterReady();
    const epoch = ++this.epoch;
    const rooms = this.holdSubscribedRooms();
    const classic = this.channels.classicChannels();
    const sharded = rooms.map(([room]) => this.keys.roomChannel(room));
    if (epoch > 1 || rooms.length > 0) this.log.info({ channels: classic.length + sharded.length, epoch }, 'subscriber ready: (re-)subscribing');
    // NOT first on the wire: ioredis emits 'ready' on process.nextTick, after it already wrote
    // its offline queue — an SUNSUBSCRIBE of a remove() during the outage goes out before this
    // SSUBSCRIBE. Hence rooms without members are left out (holdSubscribedRooms).
    Promise.all([this.sub.subscribe(...classic), ssubscribeAll(this.sub, [...this.shardProbeChannels(), ...sharded])])
      .then(() => {
        // Every (re-)subscription, the first too: a replica that started before Redis admitted
        // sockets unchecked (server.ts) before its first subscription.
        this.channels.resubscribed();
        return this.recover(epoch, rooms);
      })
      .catch((err: Error) => {
        this.log.error({ err: err.message }, 're-subscribe failed');
        // A later 'ready' retries; if this is still the current connection, resync the clients.
        if (epoch === this.epoch) for (const [room, r] of rooms) this.resync(room, r, 're-subscribe failed');
      });
  }

  /**
   * Cluster: ioredis re-subscribed the shard channels after a failover, a slot move or a lost
   * shard connection ('subscribersReady', emitted in the same turn as its SSUBSCRIBEs were
   * written — so holding the rooms here misses no live frame). What the rooms' new masters
   * published before that is in their logs. The log is read only once the subscriptions are in
   * effect: one more SSUBSCRIBE of each partition's probe channel travels behind ioredis' own on
   * the shard's connection, and its reply proves those before it were taken.
   */
  private shardsReset(): void {
    const epoch = ++this.epoch;
    this.channels.mayHaveMissed();
    const rooms = this.holdSubscribedRooms();
    if (rooms.length === 0) return;
    this.log.info({ rooms: rooms.length, epoch }, 'shard subscribers reset: recovering what was published meanwhile');
    const partitions = [...new Set(rooms.map(([, r]) => r.partition))];
    void this.channels.confirmShards(partitions, this.opts.recoveryTimeoutMs ?? RECOVERY_TIMEOUT_MS).then((failed) => {
      if (epoch !== this.epoch) return undefined; // a later reset (or 'ready') recovers these rooms
      const ready = rooms.filter(([room, r]) => {
        if (failed.has(r.partition)) this.resync(room, r, 'shard re-subscribe failed');
        return !failed.has(r.partition);
      });
      return this.recover(epoch, ready);
    });
  }

  /** Cluster: a partition's shard probe stopped coming back (probe.ts): see ReplicaChannels.refreshShards. */
  refreshShards(): void {
    this.channels.refreshShards();
  }

  private async recover(epoch: number, rooms: [string, RoomSub][]): Promise<void> {
    const todo: [string, RoomSub, string][] = [];
    for (const [room, r] of rooms) {
      if (!r.gate.holding || this.rooms.get(room) !== r) continue;
      if (r.members.size === 0) {
        r.gate.drop();
        continue;
      }
      if (r.recoverFrom !== undefined) {
        todo.push([room, r, r.recoverFrom]);
        continue;
      }
      // No baseline: no join of this room has read the log yet, and each such join reads it
      // after its SUBSCRIBE — nothing here to recover; release the held frames.
      for (const h of r.gate.release(undefined)) this.route(room, r, h.data, h.meta);
    }
    if (todo.length === 0) return;
    const missed = await readMissed(
      this.opts.redis,
      this.keys,
      todo.map(([room, r, from]) => ({ room, from, skip: r.recent })),
      this.opts,
    );
    if (epoch !== this.epoch) return; // reconnected again meanwhile: that round recovers (held frames kept)
    let recovered = 0;
    todo.forEach(([room, r], i) => {
      if (!r.gate.holding || this.rooms.get(room) !== r) return;
      const result = missed[i]!;
      if ('resync' in result) return this.resync(room, r, result.resync);
      for (const { data, frame } of result.frames) {
        this.deliver(room, r, data, frame, false);
        this.remember(r, frame.id);
        if (r.lastId === undefined || compareIds(frame.id!, r.lastId) > 0) r.lastId = frame.id;
      }
      recovered += result.frames.length;
      r.recoverFrom = undefined;
      for (const h of r.gate.release(r.lastId)) this.route(room, r, h.data, h.meta);
    });
    if (recovered > 0) this.log.info({ recovered, rooms: todo.length }, 'delivered messages missed during the subscriber outage');
  }

  /** Live delivery could not be made gap-free: the room's local sockets reconnect and resume. */
  private resync(room: string, r: RoomSub, why: string): void {
    this.log.warn({ room, members: r.members.size, why }, 'closing room members with 1012 to resume');
    r.gate.drop();
    r.recoverFrom = undefined;
    for (const m of [...r.members]) {
      try {
        m.close(CloseCode.SERVICE_RESTART, 'missed live messages, resume');
      } catch (err) {
        this.log.error({ err, room }, 'closing a member failed');
      }
    }
  }

  private onMessage(channel: string, payload: string): void {
    if (this.channels.dispatch(channel, payload)) return;
    // Encoded once: counted before the room lookup (what Redis sent, also for a room left a
    // moment ago), then framed for the members.
    const bytes = Buffer.from(payload, 'utf8');
    this.metrics.pubsubFramesIn.inc();
    this.metrics.pubsubBytesIn.inc(bytes.length);
    const room = this.channelRoom.get(channel);
    const state = room === undefined ? undefined : this.rooms.get(room);
    if (!state || state.members.size === 0 || room === undefined) return;
    let frame: PublishedFrame;
    try {
      frame = publishedFrameOf(payload);
    } catch (err) {
      this.log.warn({ channel, err: (err as Error).message }, 'dropping unparseable published frame');
      return;
    }
    const data = textFrame(bytes);
    // Bounded: a room this busy during a slow recovery resumes through 1012 instead.
    if (state.gate.heldCount >= this.opts.recoveryMax) return this.resync(room, state, 'more than RECOVERY_MAX live frames held during recovery');
    if (state.gate.admit({ data, id: logIdOf(frame), meta: frame })) this.route(room, state, data, frame);
  }

  /** Live path (after the gate): tracks the last log id, delivers. */
  private route(room: string, state: RoomSub, data: Buffer, frame: PublishedFrame): void {
    const id = logIdOf(frame);
    if (id !== undefined && (state.lastId === undefined || compareIds(id, state.lastId) > 0)) state.lastId = id;
    this.remember(state, id);
    this.deliver(room, state, data, frame, true);
  }

  /** lookbackMs: the ids delivered here lately, live or recovered (a recovery skips them). */
  private remember(state: RoomSub, id: string | undefined): void {
    if (id === undefined || !this.opts.lookbackMs) return;
    const recent = (state.recent ??= []);
    recent.push(id);
    if (recent.length > RECENT_IDS_MAX) recent.splice(0, recent.length - RECENT_IDS_MAX);
  }

  private deliver(room: string, state: RoomSub, data: Buffer, frame: PublishedFrame, live: boolean): void {
    for (const m of state.members) {
      try {
        m.receive(room, data, frame);
      } catch (err) {
        this.log.error({ err, room }, 'delivery to a member failed');
      }
    }
    this.metrics.framesOut.inc(state.members.size);
    if (live && (frame.type === 'message' || frame.type === 'event') && typeof frame.ts === 'number') {
      this.metrics.fanoutLatency.observe(Math.max(0, Date.now() - frame.ts) / 1000);
    }
  }
}
