// Live fan-out across replicas. A replica SUBSCRIBEs a room's channel while it has at least one
// local member in that room and UNSUBSCRIBEs when the last one leaves (reference counted, never
// PSUBSCRIBE), so Redis egress grows with interested replicas only. Each published payload is
// parsed once and turned into one Buffer that is written to every local member.
//
// Race safety: subscribe/unsubscribe operations of one room run strictly one after another on
// a per-room promise chain, and each re-checks the member count when it runs, so a join that
// interleaves with the last leave ends subscribed, and add() resolves only once the SUBSCRIBE
// is confirmed by Redis (join.ts relies on that before it reads the room log).
import type { Redis } from 'ioredis';
import type { Counter, Histogram } from 'prom-client';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';

/** The fields of a published frame the replica looks at (it forwards the bytes verbatim). */
export interface PublishedFrame {
  type: string;
  id?: string;
  ts?: number;
  user?: { id?: string };
}

export interface FanoutMember {
  /** Called for every frame published on a room this member was added to. */
  receive(room: string, data: Buffer, frame: PublishedFrame): void;
}

interface RoomSub {
  members: Set<FanoutMember>;
  subscribed: boolean;
  op: Promise<void>;
}

export interface FanoutMetrics {
  framesOut: Counter;
  fanoutLatency: Histogram;
}

export class Fanout {
  private readonly rooms = new Map<string, RoomSub>();
  private readonly channelRoom = new Map<string, string>();
  private probeHandler: ((payload: string) => void) | null = null;
  private readonly probeChannel: string;
  private firstReady = true;

  constructor(
    private readonly sub: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
    private readonly metrics: FanoutMetrics,
    replicaId: string,
  ) {
    this.probeChannel = keys.probeChannel(replicaId);
    sub.on('message', (channel: string, payload: string) => this.onMessage(channel, payload));
    // ioredis re-subscribes (autoResubscribe) on reconnect; doing it ourselves as well makes the
    // guarantee independent of that option and is harmless (SUBSCRIBE is idempotent).
    sub.on('ready', () => {
      if (this.firstReady) {
        this.firstReady = false;
        return;
      }
      const channels = [this.probeChannel, ...[...this.rooms].filter(([, r]) => r.subscribed).map(([room]) => this.keys.roomChannel(room))];
      log.info({ channels: channels.length }, 'subscriber reconnected: re-subscribing');
      sub.subscribe(...channels).catch((err: Error) => log.error({ err: err.message }, 're-subscribe failed'));
    });
  }

  /** Subscribes the replica's private probe channel (probe.ts). */
  async subscribeProbe(handler: (payload: string) => void): Promise<void> {
    this.probeHandler = handler;
    await this.sub.subscribe(this.probeChannel);
  }

  /** Adds a local member; resolves once the room's channel subscription is live. */
  add(room: string, member: FanoutMember): Promise<void> {
    let r = this.rooms.get(room);
    if (!r) {
      r = { members: new Set(), subscribed: false, op: Promise.resolve() };
      this.rooms.set(room, r);
      this.channelRoom.set(this.keys.roomChannel(room), room);
    }
    r.members.add(member);
    const state = r;
    state.op = state.op.then(async () => {
      if (state.members.size > 0 && !state.subscribed) {
        await this.sub.subscribe(this.keys.roomChannel(room));
        state.subscribed = true;
      }
    });
    // A failed SUBSCRIBE must not poison the chain for later joins.
    const result = state.op;
    state.op = state.op.catch(() => {});
    return result;
  }

  /** Removes a local member; the last one out unsubscribes the room. */
  remove(room: string, member: FanoutMember): void {
    const state = this.rooms.get(room);
    if (!state || !state.members.delete(member) || state.members.size > 0) return;
    state.op = state.op
      .then(async () => {
        if (state.members.size > 0 || !state.subscribed) return;
        await this.sub.unsubscribe(this.keys.roomChannel(room));
        state.subscribed = false;
        if (state.members.size === 0 && this.rooms.get(room) === state) {
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

  private onMessage(channel: string, payload: string): void {
    if (channel === this.probeChannel) {
      this.probeHandler?.(payload);
      return;
    }
    const room = this.channelRoom.get(channel);
    const state = room === undefined ? undefined : this.rooms.get(room);
    if (!state || state.members.size === 0 || room === undefined) return;
    let frame: PublishedFrame;
    try {
      frame = JSON.parse(payload) as PublishedFrame;
      if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') throw new Error('no type');
    } catch (err) {
      this.log.warn({ channel, err: (err as Error).message }, 'dropping unparseable published frame');
      return;
    }
    const data = Buffer.from(payload, 'utf8');
    for (const m of state.members) {
      try {
        m.receive(room, data, frame);
      } catch (err) {
        this.log.error({ err, room }, 'delivery to a member failed');
      }
    }
    this.metrics.framesOut.inc(state.members.size);
    if (frame.type === 'message' && typeof frame.ts === 'number') {
      this.metrics.fanoutLatency.observe(Math.max(0, Date.now() - frame.ts) / 1000);
    }
  }
}
