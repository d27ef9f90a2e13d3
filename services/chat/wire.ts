// Socket writes on the fan-out hot path: frames built once, coalesced per event-loop turn.
//
// 1. Built once. A server-to-client text frame is unmasked (RFC 6455 §5.3), so its bytes are the
//    same for every recipient: Fanout frames each published message ONCE per replica
//    (textFrame) and every member's socket is handed that same Buffer (no copy per member).
//    It is written through ws's Sender.sendFrame (private API: ws offers no public way to send
//    pre-built frames; engine.io writes its pre-encoded broadcast frames the same way, after
//    websockets/ws#617). That is only correct with per-message deflate off (the chat server's
//    WebSocketServer has it off) and while ws's sender has nothing queued (it queues only while
//    deflating or reading a Blob: neither happens here). ws is pinned; wire.test.ts fails if a
//    version drops sendFrame.
// 2. Coalesced. Every frame for a socket — fan-out, acks, errors, pongs — goes through its
//    SocketWriter, in order; the frames queued for a socket within one turn of the event loop
//    leave together at setImmediate, corked: Node hands them to the kernel in ONE writev, still
//    without copying. At low rates that is one write per frame as before; under load, when one
//    read from Redis carries many messages, it is one syscall per socket per turn instead of one
//    per message (profiling showed the write syscalls are most of a replica's CPU: `npm run
//    profile`).
// 3. Bounded. A turn can queue a lot for one socket (a recovery after a subscriber reconnect
//    delivers up to RECOVERY_MAX messages per room in one loop), so a writer holding more than
//    WRITE_MAX_BYTES writes at once: ws.bufferedAmount — what the kernel did not take — then
//    grows as the burst does, and the slow-consumer check (4008) sees it frame by frame.
// 4. Delayed, adaptively (WRITE_DELAY_MS > 0; Centrifugo's write delay). At 40 msg/s a turn
//    carries one message, so 2. still costs one write syscall per delivery — the floor of the
//    design, and most of a replica's CPU. A write carrying fan-out frames opens a window of
//    WRITE_DELAY_MS on its socket: fan-out frames arriving inside it wait (one shared timer, at
//    most WRITE_DELAY_MS) and leave together. The first one after a quiet spell goes at the end
//    of its turn as before, so an idle room pays no added latency; a busy socket writes about
//    once per window. Frames that answer the client (acks, errors, replies, pongs) never wait:
//    they end the wait, and everything queued before them leaves with them, in order.
//
// Frames still queued when ws closes a socket on its own (a protocol error such as 1009, or
// the client's close) are dropped, as frames after a close always are; a client resumes with
// `since`.
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';

interface FrameSender {
  sendFrame(list: Buffer[], cb?: (err?: Error) => void): void;
}

/** An unmasked, final text frame (opcode 0x1) carrying `payload`: header + payload bytes. */
export function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + n);
  frame[0] = 0x81; // FIN + text
  if (n < 126) {
    frame[1] = n;
  } else if (n < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  payload.copy(frame, head);
  return frame;
}

/** The payload of a frame made by textFrame (tests and diagnostics). */
export function textFramePayload(frame: Buffer): Buffer {
  const len = frame[1]!;
  return frame.subarray(len < 126 ? 2 : len === 126 ? 4 : 10);
}

function senderOf(ws: WebSocket): FrameSender {
  const sender = (ws as unknown as { _sender?: Partial<FrameSender> })._sender;
  if (typeof sender?.sendFrame !== 'function') {
    throw new Error('this ws version has no Sender.sendFrame: pre-framed writes need ws 8 (see services/chat/wire.ts)');
  }
  return sender as FrameSender;
}

/**
 * How a socket's frames are batched (config WRITE_DELAY_MS, WRITE_MAX_BYTES; see 4. above).
 * `delayMs` 0: every frame leaves at the end of its event-loop turn (no added latency).
 */
export interface WritePolicy {
  delayMs: number;
  maxBytes: number;
  /**
   * Frames a window gathers at most: once a socket has this many waiting, they leave at the end of
   * the turn instead of at the timer. Small values trade savings for latency: 2 halves the writes
   * of a busy socket while its first waiting frame waits only for the second.
   */
  maxFrames: number;
}

/** The defaults of config.ts, for writers made without one (tests, tools). */
export const DEFAULT_WRITE_POLICY: WritePolicy = { delayMs: 0, maxBytes: 64 * 1024, maxFrames: 64 };

/** Writers to flush at the end of this turn (setImmediate). */
const dirty = new Set<SocketWriter>();
let flushScheduled = false;
/** Writers inside their write window: flushed together by one shared timer. */
const delayed = new Set<SocketWriter>();
let delayTimer: NodeJS.Timeout | undefined;
/** When delayTimer fires (performance.now() ms). */
let delayDeadline = 0;

function flushDirty(): void {
  flushScheduled = false;
  for (const w of dirty) {
    dirty.delete(w);
    w.flushOrFail();
  }
}

function flushDelayed(): void {
  delayTimer = undefined;
  for (const w of delayed) {
    delayed.delete(w);
    w.flushOrFail();
  }
}

function scheduleTurnEnd(w: SocketWriter): void {
  dirty.add(w);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushDirty);
  }
}

function scheduleDelayed(w: SocketWriter, delayMs: number): void {
  delayed.add(w);
  // One timer for every writer: armed by the first frame that had to wait, so no frame waits
  // longer than delayMs; writers that joined later leave with it, earlier than their window's end
  // (less batching, never more latency). A timer per socket would cost more than the writes saved.
  // With one policy per process the armed timer is never later than this frame's deadline; writers
  // with a shorter delay (tests) move it earlier.
  const deadline = performance.now() + delayMs;
  if (delayTimer !== undefined && delayDeadline <= deadline) return;
  if (delayTimer !== undefined) clearTimeout(delayTimer);
  delayDeadline = deadline;
  delayTimer = setTimeout(flushDelayed, delayMs);
}

interface RawSocket {
  cork(): void;
  uncork(): void;
}

/** One socket's ordered outgoing frames, batched by a WritePolicy. */
export class SocketWriter {
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  /** Until when (performance.now() ms) this socket's broadcast frames wait for company. */
  private windowEndsAt = 0;
  /** A broadcast frame is queued: the write that takes it opens the window. */
  private pendingBroadcast = false;
  private readonly sender: FrameSender;

  /** `onError`: a write threw (the socket is terminated after it is called). */
  constructor(
    private readonly ws: WebSocket,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly policy: WritePolicy = DEFAULT_WRITE_POLICY,
  ) {
    this.sender = senderOf(ws);
  }

  /** Bytes queued, not yet written (at most ~policy.maxBytes). */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Queues a frame made by textFrame. `broadcast` frames (fan-out: messages, events, typing) may
   * wait for the socket's write window; any other frame (an ack, an error, a reply, a pong) ends
   * the wait — it and everything queued before it leave at the end of this turn, in order.
   */
  write(frame: Buffer, broadcast = false): void {
    if (this.pending === null) this.pending = [frame];
    else this.pending.push(frame);
    this.pendingBytes += frame.length;
    if (broadcast) this.pendingBroadcast = true;
    if (this.pendingBytes >= this.policy.maxBytes) return this.flushOrFail();
    if (dirty.has(this)) return;
    const delayMs = this.policy.delayMs;
    if (broadcast && delayMs > 0 && this.pending.length < this.policy.maxFrames && performance.now() < this.windowEndsAt) {
      if (!delayed.has(this)) scheduleDelayed(this, delayMs);
      return;
    }
    delayed.delete(this);
    scheduleTurnEnd(this);
  }

  /** Writes what is queued now (also called before a close frame, so nothing queued is lost). */
  flush(): void {
    const pending = this.pending;
    const broadcast = this.pendingBroadcast;
    this.pending = null;
    this.pendingBytes = 0;
    this.pendingBroadcast = false;
    dirty.delete(this);
    delayed.delete(this);
    if (pending === null || this.ws.readyState !== WebSocket.OPEN) return;
    // A write of fan-out frames opens the window: the room is busy, and fan-out frames in the next
    // delayMs wait and leave together. The first one after a quiet spell therefore goes at once;
    // a busy socket writes once per window. Replies (joined, acks) say nothing about the room's
    // traffic and open no window.
    if (broadcast && this.policy.delayMs > 0) this.windowEndsAt = performance.now() + this.policy.delayMs;
    writes++;
    if (pending.length === 1) return this.sender.sendFrame(pending);
    const socket = (this.ws as unknown as { _socket: RawSocket })._socket;
    socket.cork();
    try {
      for (const frame of pending) this.sender.sendFrame([frame]);
    } finally {
      socket.uncork();
    }
  }

  /** flush(), but a throwing write ends this socket instead of the replica or other writers. */
  flushOrFail(): void {
    try {
      this.flush();
    } catch (err) {
      this.onError(err);
      this.ws.terminate();
    }
  }
}

let writes = 0;

/** Socket writes (batches handed to the kernel) since the process started: frames out / writes = batching. */
export function socketWrites(): number {
  return writes;
}
