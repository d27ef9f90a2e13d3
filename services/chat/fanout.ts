// Live fan-out across replicas. A replica SUBSCRIBEs a room's channel while it has at least one
// local member in that room and UNSUBSCRIBEs when the last one leaves (reference counted, never
// PSUBSCRIBE), so Redis egress grows with interested replicas only. Each published payload is
// parsed once and framed once (wire.ts): the same WebSocket frame bytes go to every local member.
//
// Race safety: subscribe/unsubscribe operations of one room run strictly one after another on
// a per-room promise chain, and each re-checks the member count when it runs, so a join that
// interleaves with the last leave ends subscribed, and add() resolves only once the SUBSCRIBE
// is confirmed by Redis (join.ts relies on that before it reads the room log).
//
// Subscriber reconnects ("acked ⇒ delivered live to every connected member"): on EVERY 'ready'
// of the subscriber connection — the first one included — the probe channel and every
// subscribed room are SUBSCRIBEd again (ioredis's own autoResubscribe is off: it only restores
// what it recorded, and a connection reset before the first 'ready' records nothing). Messages
// published while the connection was down are recovered from the room log: each room remembers
// the last entry id (message or event) delivered here; once the SUBSCRIBE is confirmed, live
// frames of the room are held back (live-gate.ts, the same hold-and-merge a join uses), XRANGE lastId + COUNT RECOVERY_MAX+2 reads what was missed (from lastId
// itself, inclusive: one atomic read that also proves the capped log still holds it — trimmed
// away means more was missed than the log keeps, a gap; 1012), it is delivered
// through the normal path (one Buffer per message, byte-identical to the published frame),
// then the held live frames minus what the log already gave. More than RECOVERY_MAX missed (or
// more than recoveryMaxBytes = REPLY_MAX_BYTES of frames: 500 big messages would be ~12 MB per
// member socket in one turn), the
// read failed or took longer than RECOVERY_TIMEOUT_MS (a stalled main connection must not hold
// live frames forever), or more than RECOVERY_MAX live frames piled up while it ran: the room's
// local sockets are closed with 1012 and the clients resume with `since`.
import type { Redis } from 'ioredis';
import type { Counter, Histogram } from 'prom-client';
import { compareIds, idTime, isMessageId } from '../shared/ids.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { eachCommand } from '../shared/redis.js';
import { logEntryFrame } from './frames.js';
import { LiveGate } from './live-gate.js';
import { CloseCode } from './protocol.js';
import { textFrame } from './wire.js';

/** The fields of a published frame the replica looks at (it forwards the bytes verbatim). */
export interface PublishedFrame {
  type: string;
  id?: string;
  ts?: number;
  user?: { id?: string };
  /** Set on every frame but `message`/`event` frames of the fast path (below). */
  room?: string;
  /** Membership events (parsed in full: they are rare and a replica acts on them). */
  kind?: string;
  action?: string;
  member?: { id?: string };
}

export interface FanoutMember {
  /**
   * Called for every frame published on a room this member was added to; `data` is the whole
   * WebSocket frame (wire.ts textFrame), built once per message and shared by every member.
   */
  receive(room: string, data: Buffer, frame: PublishedFrame): void;
  /** Closes the member's socket (1012 when live delivery could not be made gap-free). */
  close(code: number, reason: string): void;
}

/** The room log id a frame carries: messages and events have one (presence and typing do not). */
export function logIdOf(frame: PublishedFrame): string | undefined {
  return (frame.type === 'message' || frame.type === 'event') && isMessageId(frame.id) ? frame.id : undefined;
}

interface RoomSub {
  members: Set<FanoutMember>;
  subscribed: boolean;
  op: Promise<void>;
  /** Highest log id delivered here (or, before the first, the log's head at the first join). */
  lastId?: string | undefined;
  /** Holds live frames while missed entries are read back after a re-subscribe. */
  gate: LiveGate<PublishedFrame>;
  /** The id recovery reads after (lastId when the re-subscribe began). */
  recoverFrom?: string | undefined;
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
}

/** Default of FanoutOptions.recoveryTimeoutMs. */
export const RECOVERY_TIMEOUT_MS = 5_000;

type StreamEntry = [id: string, fields: string[]];

const MESSAGE_HEAD = '{"type":"message",';
const EVENT_HEAD = '{"type":"event",';
const MEMBER_EVENT_HEAD = '{"type":"event","kind":"member",';
const FRAME_TAIL = /^,"ts":(\d{1,16})}$/;

/**
 * The fields fan-out needs from a published frame. `message` and `event` frames are made by the
 * scripts as a head + `"id":"<id>","ts":<ts>}` (frames.ts), so their id and ts are read from the
 * end without parsing the text (they are last, and a `"` inside the text is always escaped);
 * anything else (typing, presence, or an unexpected shape) is JSON-parsed. Throws on a frame
 * without a type.
 */
export function publishedFrameOf(payload: string): PublishedFrame {
  const type = payload.startsWith(MESSAGE_HEAD)
    ? 'message'
    : payload.startsWith(EVENT_HEAD) && !payload.startsWith(MEMBER_EVENT_HEAD)
      ? 'event'
      : null;
  if (type !== null) {
    const at = payload.lastIndexOf('"id":"');
    const end = at < 0 ? -1 : payload.indexOf('"', at + 6);
    const id = end < 0 ? '' : payload.slice(at + 6, end);
    const tail = end < 0 ? null : FRAME_TAIL.exec(payload.slice(end + 1));
    if (tail && isMessageId(id)) return { type, id, ts: Number(tail[1]) };
  }
  const frame = JSON.parse(payload) as PublishedFrame;
  if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') throw new Error('no type');
  return frame;
}

export class Fanout {
  private readonly rooms = new Map<string, RoomSub>();
  private readonly channelRoom = new Map<string, string>();
  private probeHandler: ((payload: string) => void) | null = null;
  /** Replica-wide channels (session revocations): subscribed for the replica's life. */
  private readonly controls = new Map<string, { onMessage: (payload: string) => void; onResubscribed?: () => void }>();
  private readonly probeChannel: string;
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
    this.probeChannel = keys.probeChannel(replicaId);
    sub.on('message', (channel: string, payload: string) => this.onMessage(channel, payload));
    sub.on('ready', () => this.resubscribe());
  }

  /** Subscribes the replica's private probe channel (probe.ts); re-subscribed on every 'ready'. */
  async subscribeProbe(handler: (payload: string) => void): Promise<void> {
    this.probeHandler = handler;
    // Not ready yet: the 'ready' handler subscribes it (a SUBSCRIBE written before the
    // connection's handshake finished is what loses subscriptions in ioredis 5, issue #2037).
    if (this.sub.status === 'ready') await this.sub.subscribe(this.probeChannel);
  }

  /**
   * Subscribes a replica-wide control channel for the replica's life, re-subscribed on every
   * 'ready'; `onResubscribed` runs after each subscription made on a 'ready' (what was published
   * while the subscriber was down is lost: the owner re-reads its state then).
   */
  async subscribeControl(channel: string, handlers: { onMessage: (payload: string) => void; onResubscribed?: () => void }): Promise<void> {
    this.controls.set(channel, handlers);
    if (this.sub.status === 'ready') await this.sub.subscribe(channel);
  }

  /** Ends a control channel subscribed with subscribeControl (user-channels.ts: the user's last socket left). */
  async unsubscribeControl(channel: string): Promise<void> {
    if (!this.controls.delete(channel)) return;
    if (this.sub.status === 'ready') await this.sub.unsubscribe(channel);
  }

  /** Adds a local member; resolves once the room's channel subscription is live. */
  add(room: string, member: FanoutMember): Promise<void> {
    let r = this.rooms.get(room);
    if (!r) {
      r = { members: new Set(), subscribed: false, op: Promise.resolve(), gate: new LiveGate() };
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
          await this.sub.unsubscribe(this.keys.roomChannel(room));
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

  private resubscribe(): void {
    const epoch = ++this.epoch;
    const rooms: [string, RoomSub][] = [];
    for (const [room, r] of this.rooms) {
      // Not subscribed yet: its first SUBSCRIBE is queued and its join reads the log after it.
      if (!r.subscribed) continue;
      // No member left: its remove()'s UNSUBSCRIBE is in flight (or queued behind it on the
      // room's chain) and forgets the room once answered. SUBSCRIBEd again here it would
      // stay subscribed with no state (see the comment on the write below). A member that
      // joins meanwhile re-subscribes through add() once that UNSUBSCRIBE resolved.
      if (r.members.size === 0) continue;
      if (!r.gate.holding) {
        r.gate.hold();
        r.recoverFrom = r.lastId;
      }
      rooms.push([room, r]);
    }
    const channels = [this.probeChannel, ...this.controls.keys(), ...rooms.map(([room]) => this.keys.roomChannel(room))];
    if (epoch > 1 || rooms.length > 0) this.log.info({ channels: channels.length, epoch }, 'subscriber ready: (re-)subscribing');
    // NOT first on the wire: ioredis emits 'ready' on process.nextTick, after it already wrote
    // its offline queue — an UNSUBSCRIBE of a remove() during the outage goes out before this
    // SUBSCRIBE. Hence rooms without members are left out above.
    this.sub
      .subscribe(...channels)
      .then(() => {
        // Every (re-)subscription, the first too: a replica that started before Redis admitted
        // sockets unchecked (server.ts) before its first subscription.
        for (const c of this.controls.values()) c.onResubscribed?.();
        return this.recover(epoch, rooms);
      })
      .catch((err: Error) => {
        this.log.error({ err: err.message }, 're-subscribe failed');
        // A later 'ready' retries; if this is still the current connection, resync the clients.
        if (epoch === this.epoch) for (const [room, r] of rooms) this.resync(room, r, 're-subscribe failed');
      });
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
    let results: ([Error | null, unknown] | undefined)[];
    let timer: NodeJS.Timeout | undefined;
    try {
      // Inclusive of `from` (one extra entry): the first entry must be `from` itself, else the
      // capped log trimmed it and what follows is not everything that was missed. One pipeline
      // (per master on a Cluster).
      const read = eachCommand(this.opts.redis, todo, (c, [room, , from]) => c.xrange(this.keys.roomLog(room), from, '+', 'COUNT', this.opts.recoveryMax + 2));
      // Raced against a timer: on a stalled (half-open) main connection the read never settles,
      // and every live frame of these rooms would wait in `held` for ever. A late reply is
      // ignored (the rooms were resynced, nothing is held).
      const ms = this.opts.recoveryTimeoutMs ?? RECOVERY_TIMEOUT_MS;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms);
      });
      results = await Promise.race([read, timeout]);
    } catch (err) {
      results = todo.map(() => [err as Error, null]);
    } finally {
      clearTimeout(timer);
    }
    if (epoch !== this.epoch) return; // reconnected again meanwhile: that round recovers (held frames kept)
    let recovered = 0;
    todo.forEach(([room, r, from], i) => {
      if (!r.gate.holding || this.rooms.get(room) !== r) return;
      const [err, value] = results[i] ?? [new Error('no reply'), null];
      if (err) return this.resync(room, r, `recovery read failed: ${err.message}`);
      let entries = value as StreamEntry[];
      // '0-0': the log was empty at the first join, no entry to find; a trim then leaves at least
      // ROOM_LOG_MAXLEN > RECOVERY_MAX entries (loadConfig), caught by the count check below.
      if (from !== '0-0') {
        if (entries[0]?.[0] !== from) return this.resync(room, r, 'the room log no longer holds the last delivered message');
        entries = entries.slice(1);
      }
      if (entries.length > this.opts.recoveryMax) return this.resync(room, r, 'more than RECOVERY_MAX missed');
      // Framed (once each, as live) before anything is delivered: past the byte bound nothing
      // is, the room resyncs instead (a member would get all of it in one turn).
      const maxBytes = this.opts.recoveryMaxBytes ?? Number.POSITIVE_INFINITY;
      const frames: { data: Buffer; frame: PublishedFrame }[] = [];
      let bytes = 0;
      for (const [id, fields] of entries) {
        const { json, entry } = logEntryFrame(room, id, fields);
        const data = textFrame(Buffer.from(json, 'utf8'));
        bytes += data.length;
        if (bytes > maxBytes) return this.resync(room, r, 'more than REPLY_MAX_BYTES missed');
        const frame: PublishedFrame = 'kind' in entry && entry.kind === 'member' ? publishedFrameOf(json) : { type: 'kind' in entry ? 'event' : 'message', id, ts: idTime(id) };
        frames.push({ data, frame });
      }
      for (const { data, frame } of frames) {
        this.deliver(room, r, data, frame, false);
        r.lastId = frame.id;
      }
      recovered += entries.length;
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
    if (channel === this.probeChannel) {
      this.probeHandler?.(payload);
      return;
    }
    const control = this.controls.get(channel);
    if (control) {
      control.onMessage(payload);
      return;
    }
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
    this.deliver(room, state, data, frame, true);
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
