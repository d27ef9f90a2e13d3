// One WebSocket connection: its user and token expiry, the rooms it joined (with the live gate
// that holds live frames while a join reads the backlog, live-gate.ts), its frame budget and abuse
// strikes. Frames of one socket are handled one after another (a small queue), so a user's sends
// and changes are acked and published in the order they were typed and a send right after a join
// waits for the join. (One send in flight per socket is also what keeps a user's order through a
// script-cache flush or a reconnect; throughput comes from batching the script calls of ALL
// sockets per turn, scripts.ts.) What a send, edit, delete or react does is changes.ts.
// Every handler is wrapped: bad input or a Redis failure becomes an error frame, never a crash.
// Cost bounds per socket (socket-budget.ts): every frame (refused and malformed ones included) is
// charged to the MAX_FRAMES_PER_SEC budget before it is looked at; join/leave churn has its own
// budget (JOIN_LEAVE_MAX per JOIN_LEAVE_WINDOW_MS); typing is coalesced per room (typing-throttle.ts)
// and then throttled per user (typing.ts); every reply is bounded by REPLY_MAX_BYTES and no
// frame is written that would take the send buffer past MAX_BUFFERED_BYTES (4008 instead);
// a join of a room the socket is already in is answered at once — `joined` with no messages,
// recovered:true, the members — without reading the room log (the socket has been receiving the
// room live all along).
// Rooms with members: a join asks room-access.ts (member.lua) whether the user may enter (and
// makes them a member of a public room); a `member` event removing this user — they left on
// another device, were kicked or banned — takes this socket out of the room (`left` with the
// reason); frames of the user's own channel (user-channels.ts) reach the sockets that have not
// joined the room they concern.
import { WebSocket, type RawData } from 'ws';
import type { Logger } from '../shared/logger.js';
import type { ChatUser } from '../shared/message.js';
import { withTimeout } from '../shared/timeout.js';
import { acceptChange, REDIS_TIMEOUT_MS, type ChangeFrame } from './changes.js';
import type { FanoutMember } from './fanout.js';
import { logIdOf, type PublishedFrame } from './published-frame.js';
import { authedFrame, errorFrame, helloFrame, joinedFrame, joinedOverhead, leftFrame, membersJson, pongFrame, type LeftReason } from './frames.js';
import { readBacklog } from './join.js';
import { LiveGate } from './live-gate.js';
import { CloseCode, parseClientFrame, type ClientFrame, type ErrorCode, type SendLimit } from './protocol.js';
import { isRemoval, joinAccess, lastRemovalOf, type AccessRefused } from './room-access.js';
import { checkReauth, TokenExpiry } from './token-expiry.js';
import { markRead } from './reads.js';
import { SocketBudget } from './socket-budget.js';
import { RoomTyping } from './typing-throttle.js';
import type { UserChannelMember } from './user-channels.js';
import { SocketWriter, textFrame } from './wire.js';
import type { ChatContext } from './chat-context.js';

export type { ChatContext, ConnectionMetrics } from './chat-context.js';

/**
 * Frames waiting behind slow Redis calls before the socket stops being read (TCP backpressure:
 * ws.pause()); reading resumes when the queue is down to RESUME_QUEUED_FRAMES.
 */
const PAUSE_QUEUED_FRAMES = 32;
const RESUME_QUEUED_FRAMES = 8;
/** After a 4008 close frame is queued, how long the peer gets to read it before termination. */
const SLOW_CONSUMER_GRACE_MS = 10_000;

interface RoomState {
  /** Holds live frames while a join reads the backlog, then merges by id (live-gate.ts). */
  gate: LiveGate;
  /** This socket's typing indicator in the room, coalesced (typing-throttle.ts). */
  typing: RoomTyping;
}

/** Every Redis call of a frame handler: a stalled Redis fails the frame with `internal`. */
const redisCall = <T>(p: Promise<T>): Promise<T> => withTimeout(p, REDIS_TIMEOUT_MS);

export class Connection implements FanoutMember, UserChannelMember {
  readonly rooms = new Map<string, RoomState>();
  /**
   * Rooms whose join is asking room-access.ts: the user channel already carries this join's own
   * `member joined` event (member.lua publishes it there too), which must not reach this socket
   * before `joined` — the backlog brings it in order.
   */
  private readonly joining = new Set<string>();
  /** Set by the heartbeat; cleared when a pong arrives. */
  awaitingPong = false;
  closed = false;
  /** Closes the socket with 4001 when its token runs out (token-expiry.ts). */
  private readonly expiry: TokenExpiry;
  /** Frame, strike and join/leave budgets (socket-budget.ts). */
  private readonly budget: SocketBudget;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private closing = false;
  private childLog: Logger | undefined;
  /** Every frame to the client goes through here, in order (wire.ts: coalesced writes). */
  private readonly out: SocketWriter;

  constructor(
    readonly ws: WebSocket,
    readonly user: ChatUser,
    exp: number,
    /** The session of the current token (revocations.ts closes the socket when it is revoked). */
    public sid: string | undefined,
    private readonly ctx: ChatContext,
    private readonly onClosed: (c: Connection) => void,
  ) {
    this.expiry = new TokenExpiry(exp, () => this.close(CloseCode.TOKEN_EXPIRED, 'token expired'));
    this.budget = new SocketBudget(ctx.config.MAX_FRAMES_PER_SEC);
    this.out = new SocketWriter(ws, (err) => this.log.error({ err }, 'socket write failed: terminating the socket'), ctx.writePolicy);
  }

  /** A child logger with the user, made on first use: most connections never log (memory). */
  private get log(): Logger {
    return (this.childLog ??= this.ctx.log.child({ user: this.user.id }));
  }

  start(): void {
    this.ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    this.ws.on('pong', () => {
      this.awaitingPong = false;
    });
    this.ws.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'));
    this.ws.on('close', () => this.cleanup());
    this.expiry.arm();
    this.ctx.userChannels.add(this).catch(() => {}); // logged there; the socket works without it
    this.ctx.status.connected(this.user.id);
    this.sendText(helloFrame(this.user, this.ctx.config.replicaId, this.ctx.config.HEARTBEAT_MS));
  }

  /** Fan-out entry point: `data` is the WebSocket frame, built once per message per replica. */
  receive(room: string, data: Buffer, frame: PublishedFrame): void {
    const state = this.rooms.get(room);
    if (!state) return;
    // Typing goes to the others; our own presence is already in `joined`'s member list.
    if ((frame.type === 'typing' || frame.type === 'presence') && frame.user?.id === this.user.id) return;
    if (state.gate.admit({ data, id: logIdOf(frame), meta: undefined })) this.write(data, true);
    if (frame.kind === 'member' && frame.member?.id === this.user.id && isRemoval(frame.action)) this.removedFrom(room, frame.action);
  }

  /**
   * A frame of this user's channel (user-channels.ts): for a room this socket has joined the room
   * channel brings the same frame, so only the others are written.
   */
  receiveUserFrame(data: Buffer, frame: PublishedFrame): void {
    // Room log frames (messages, member events) are published on the room channel too: a joined
    // socket has them from there. Frames only ever on the user channel (read, notify) always go.
    const alsoOnRoom = frame.type === 'message' || frame.type === 'event';
    if (alsoOnRoom && frame.room !== undefined && (this.rooms.has(frame.room) || this.joining.has(frame.room))) return;
    this.ctx.metrics.framesOut.inc();
    this.write(data, true);
  }

  /** The user left the room (another device), was kicked or banned: this socket leaves it too. */
  private removedFrom(room: string, reason: LeftReason): void {
    if (!this.rooms.has(room)) return;
    void this.leaveRoom(room);
    this.sendText(leftFrame(room, reason));
  }

  /** Closes with `code` (idempotent); frames queued before it still go out first. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.out.flush();
    this.ws.close(code, reason);
    // A socket paused for back-pressure (queued frames) must read again, or the client's close
    // frame is never seen and the socket hangs half-closed until ws's 30 s timeout; what it reads
    // meanwhile is dropped (onFrame: closing).
    if (this.ws.isPaused) this.ws.resume();
  }

  /** Queues one WebSocket frame (made by wire.ts textFrame); `broadcast`: fan-out, may wait for the write window. */
  private write(frame: Buffer, broadcast = false): void {
    if (this.ws.readyState !== WebSocket.OPEN || this.closing) return;
    // Checked WITH this frame, before it is queued: what the kernel did not take, plus what this
    // turn queued (wire.ts), plus the frame. So no single write — a big reply, a burst — takes
    // the socket past the bound; checking the buffer alone let it pass by a whole frame.
    const max = this.ctx.config.MAX_BUFFERED_BYTES;
    let buffered = this.ws.bufferedAmount;
    let queued = this.out.queuedBytes;
    if (buffered + queued + frame.length > max && queued > 0) {
      // Near the bound with frames of this turn still queued: hand them to the kernel now — a
      // reader that keeps up takes them at once and is not mistaken for a slow one.
      this.out.flushOrFail();
      if (this.ws.readyState !== WebSocket.OPEN) return;
      buffered = this.ws.bufferedAmount;
      queued = this.out.queuedBytes;
    }
    if (buffered + queued + frame.length > max) {
      this.ctx.metrics.slowConsumerCloses.inc();
      this.log.warn({ buffered, queued, frame: frame.length }, 'slow consumer: closing with 4008');
      this.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
      setTimeout(() => this.ws.terminate(), SLOW_CONSUMER_GRACE_MS).unref();
      return;
    }
    this.out.write(frame, broadcast);
  }

  private writeText(text: string): void {
    this.write(textFrame(Buffer.from(text, 'utf8')));
  }

  /** A frame already serialized (joined: assembled from per-message JSON, join.ts). */
  private sendText(json: string): void {
    this.ctx.metrics.framesOut.inc();
    this.writeText(json);
  }

  private sendError(code: ErrorCode, message: string, ref?: string, retryAfterMs?: number, limit?: SendLimit, room?: string): void {
    this.ctx.metrics.errors.inc({ code });
    this.ctx.metrics.framesOut.inc();
    this.writeText(errorFrame(code, message, ref, retryAfterMs, limit, room));
  }

  /** A refused `join`: it carries no cid, so the error names the room. */
  private refuseJoin(room: string, code: ErrorCode, message: string, retryAfterMs?: number, limit?: SendLimit): void {
    this.sendError(code, message, undefined, retryAfterMs, limit, room);
  }

  private strike(): void {
    if (this.budget.strike(Date.now())) {
      this.log.warn({ strikes: this.budget.strikeCount }, 'repeated protocol abuse: closing with 1008');
      this.close(CloseCode.POLICY_VIOLATION, 'repeated protocol abuse');
    }
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    // Every frame is charged to the budget — refused and malformed ones too, before anything
    // else is decided about it: an error reply costs the server as much as a pong.
    const { overBudget, retryAfterMs } = this.budget.chargeFrame(Date.now());
    if (isBinary) {
      this.ctx.metrics.framesIn.inc({ type: overBudget ? 'over_budget' : 'binary' });
      if (overBudget) this.sendError('rate_limited', 'too many frames per second', undefined, retryAfterMs);
      else this.sendError('bad_request', 'binary frames are not supported');
      this.strike();
      return;
    }
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    // Parsed even when over budget, so that a refused send still carries its cid as ref.
    const parsed = parseClientFrame(text);
    if (overBudget) {
      this.ctx.metrics.framesIn.inc({ type: 'over_budget' });
      const ref = parsed.ok ? cidOf(parsed.frame) : parsed.error.ref;
      this.sendError('rate_limited', 'too many frames per second', ref, retryAfterMs);
      this.strike();
      return;
    }
    if (!parsed.ok) {
      this.ctx.metrics.framesIn.inc({ type: 'invalid' });
      this.sendError(parsed.error.code, parsed.error.message, parsed.error.ref);
      if (parsed.error.strike) this.strike();
      return;
    }
    const frame = parsed.frame;
    this.ctx.metrics.framesIn.inc({ type: frame.type });
    if (frame.type === 'ping') {
      // Answered at once, not behind queued sends: it measures the socket, not Redis.
      this.sendText(pongFrame(frame.t ?? Date.now()));
      return;
    }
    if (frame.type === 'status') return this.ctx.status.set(this.user.id, frame.status);
    // What a person does (not what a client does by itself: joins on reconnect, token refresh, reads)
    if (PERSON_ACTIVITY.has(frame.type)) this.ctx.status.activity(this.user.id);
    if (++this.queued >= PAUSE_QUEUED_FRAMES && !this.ws.isPaused) this.ws.pause();
    this.queue = this.queue
      .then(() => (this.closed ? undefined : this.handle(frame)))
      .catch((err: unknown) => {
        this.log.error({ err, type: frame.type }, 'frame handler failed');
        this.sendError('internal', 'internal error', cidOf(frame));
      })
      .finally(() => {
        if (--this.queued <= RESUME_QUEUED_FRAMES && this.ws.isPaused && !this.closing) this.ws.resume();
      });
  }

  private async handle(frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'join':
        return this.join(frame.room, frame.since);
      case 'leave':
        if (this.rooms.has(frame.room)) {
          this.chargeJoinLeave();
          await this.leaveRoom(frame.room);
        }
        this.sendText(leftFrame(frame.room));
        return;
      case 'send':
      case 'edit':
      case 'delete':
      case 'react':
        return this.change(frame);
      case 'typing': {
        const state = this.rooms.get(frame.room);
        if (!state) return this.sendError('not_joined', `join ${frame.room} first`);
        return state.typing.offer(frame.active);
      }
      case 'read': {
        if (!this.rooms.has(frame.room)) return this.sendError('not_joined', `join ${frame.room} first`);
        const error = await markRead(this.ctx, this.user, frame.room, frame.id);
        if (error !== null) this.sendText(error);
        return;
      }
      case 'auth':
        return this.reauth(frame.token);
      case 'ping':
      case 'status':
        return;
    }
  }

  private chargeJoinLeave(): void {
    this.budget.chargeJoinLeave(Date.now());
  }

  /** False (and a rate_limited error sent) while the join/leave budget is spent. */
  private joinAllowed(room: string): boolean {
    const retryAfterMs = this.budget.joinRetryMs(Date.now());
    if (retryAfterMs === 0) return true;
    this.ctx.metrics.rateLimited.inc();
    this.refuseJoin(room, 'rate_limited', 'too many joins and leaves, slow down', retryAfterMs);
    return false;
  }

  private async join(room: string, since: string | undefined): Promise<void> {
    if (this.rooms.has(room)) {
      // Already joined: this socket has been receiving the room live all along, so there is
      // nothing to recover — answered at once (members only), no room log read.
      if (!this.joinAllowed(room)) return;
      this.chargeJoinLeave();
      const members = await redisCall(this.ctx.presence.members(room));
      if (this.closed || !this.rooms.has(room)) return;
      this.sendText(joinedFrame(room, [], [], true, membersJson(members, this.ctx.config.REPLY_MAX_BYTES / 2)));
      return;
    }
    if (this.rooms.size >= this.ctx.config.MAX_ROOMS_PER_CONNECTION) {
      return this.refuseJoin(room, 'bad_request', `at most ${this.ctx.config.MAX_ROOMS_PER_CONNECTION} rooms per connection`);
    }
    if (!this.joinAllowed(room)) return;
    this.budget.chargeJoin(room, Date.now());
    this.joining.add(room);
    const refused = await redisCall(joinAccess(this.ctx.member, this.ctx.config, this.user, room))
      .catch((err: Error) => {
        this.log.error({ err: err.message, room }, 'join access check failed');
        const failed: AccessRefused = { code: 'internal', message: 'could not join the room, retry' };
        return failed;
      })
      .finally(() => this.joining.delete(room));
    if (refused) return this.refuseJoin(room, refused.code, refused.message, refused.retryAfterMs, refused.limit);
    if (this.closed || this.rooms.has(room)) return;
    const state: RoomState = {
      gate: new LiveGate(),
      typing: new RoomTyping({
        publish: (active) => redisCall(this.ctx.typing(room, this.user, active)),
        enqueue: (job) => {
          this.queue = this.queue.then(job).catch((err: unknown) => this.log.warn({ err, room }, 'typing update failed'));
        },
        alive: () => !this.closed && this.rooms.get(room) === state,
      }),
    };
    state.gate.hold();
    this.rooms.set(room, state);
    let presenceJoined = false;
    try {
      // 1. subscribe (resolves once Redis confirmed it); live frames now wait in the gate
      await redisCall(this.ctx.fanout.add(room, this));
      if (this.closed) return;
      // 2. presence (announces a new member) and the member list
      presenceJoined = true;
      const members = await redisCall(this.ctx.presence.join(room, this.user));
      // 3. the backlog, bounded
      //    and the reply within REPLY_MAX_BYTES: the members take at most half, the messages the rest
      const membersList = membersJson(members, this.ctx.config.REPLY_MAX_BYTES / 2);
      const budget = this.ctx.config.REPLY_MAX_BYTES - joinedOverhead(room, membersList);
      const backlog = await redisCall(readBacklog(this.ctx.redis, this.ctx.keys, this.ctx.config, room, since, budget));
      if (this.closed || this.rooms.get(room) !== state) return;
      this.ctx.fanout.seen(room, backlog.lastId);
      // Removed between the access check and the subscription (its event was published before
      // this socket listened): the backlog, read after subscribing, holds it.
      const removal = lastRemovalOf(backlog.events, this.user.id);
      if (removal) {
        this.removedFrom(room, removal);
        return;
      }
      this.sendText(joinedFrame(room, backlog.json, backlog.eventJson, backlog.recovered, membersList));
      // 4. flush live frames the backlog did not already contain
      const live = state.gate.release(backlog.newestId ?? (backlog.recovered ? since : undefined));
      for (const f of live) this.write(f.data);
      if (live.length > 0) this.ctx.metrics.framesOut.inc(live.length);
    } catch (err) {
      if (this.rooms.get(room) === state) {
        this.rooms.delete(room);
        this.ctx.fanout.remove(room, this);
        if (presenceJoined) await this.ctx.presence.leave(room, this.user).catch(() => {});
      }
      this.log.error({ err: (err as Error).message, room }, 'join failed');
      this.refuseJoin(room, 'internal', 'could not join the room, retry');
    }
  }

  private async leaveRoom(room: string): Promise<void> {
    const state = this.rooms.get(room);
    state?.typing.stop();
    this.rooms.delete(room);
    this.ctx.fanout.remove(room, this);
    await redisCall(this.ctx.presence.leave(room, this.user)).catch((err: Error) =>
      this.log.warn({ err: err.message, room }, 'presence leave failed'),
    );
  }

  /** send, edit, delete, react: one script call each (changes.ts), answered with an ack or an error. */
  private async change(frame: ChangeFrame): Promise<void> {
    if (!this.rooms.has(frame.room)) return this.sendError('not_joined', `join ${frame.room} first`, frame.cid);
    const outcome = await acceptChange(this.ctx, this.user, frame);
    if (outcome.rateLimited) this.ctx.metrics.rateLimited.inc();
    if (outcome.rateLimited === 'room') {
      this.ctx.autoMute(frame.room, this.user).catch((err: Error) => this.log.warn({ err: err.message }, 'auto-mute failed'));
    }
    if (outcome.error) this.ctx.metrics.errors.inc({ code: outcome.error });
    this.sendText(outcome.frame);
  }

  /** The session was revoked (logout, refresh theft): closed as an expired token would be. */
  endSession(): void {
    this.close(CloseCode.TOKEN_EXPIRED, 'session ended');
  }

  private async reauth(token: string): Promise<void> {
    const r = await checkReauth(this.ctx, this.user.id, token);
    if (!r.ok) return this.sendError(r.code, r.message);
    if (this.closed) return;
    this.sid = r.sid;
    this.expiry.arm(r.exp);
    this.sendText(authedFrame(r.exp));
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.userChannels.remove(this);
    this.ctx.status.disconnected(this.user.id);
    this.expiry.stop();
    for (const room of [...this.rooms.keys()]) void this.leaveRoom(room);
    this.onClosed(this);
  }
}

/** Frames only a person's action sends: they make the user `online` (user-status.ts). */
const PERSON_ACTIVITY: ReadonlySet<ClientFrame['type']> = new Set(['send', 'edit', 'delete', 'react', 'typing']);

/** The client's id of a frame that carries one (echoed as `ref` in errors). */
function cidOf(frame: ClientFrame): string | undefined {
  return 'cid' in frame ? frame.cid : undefined;
}
