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
//    FLUSH_AT_BYTES writes at once: ws.bufferedAmount — what the kernel did not take — then
//    grows as the burst does, and the slow-consumer check (4008) sees it frame by frame.
//
// Frames still queued when ws closes a socket on its own (a protocol error such as 1009, or
// the client's close) are dropped, as frames after a close always are; a client resumes with
// `since`.
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

/** Queued bytes past which a writer writes at once instead of waiting for the turn's end. */
export const FLUSH_AT_BYTES = 64 * 1024;

const dirty = new Set<SocketWriter>();
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  for (const w of dirty) {
    dirty.delete(w);
    w.flushOrFail();
  }
}

interface RawSocket {
  cork(): void;
  uncork(): void;
}

/** One socket's ordered outgoing frames, written at most once per event-loop turn. */
export class SocketWriter {
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  private readonly sender: FrameSender;

  /** `onError`: a write threw (the socket is terminated after it is called). */
  constructor(
    private readonly ws: WebSocket,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.sender = senderOf(ws);
  }

  /** Bytes queued in this turn, not yet written (see 3. above: at most ~FLUSH_AT_BYTES). */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /** Queues a frame made by textFrame; it leaves with the others queued in this turn. */
  write(frame: Buffer): void {
    if (this.pending === null) this.pending = [frame];
    else this.pending.push(frame);
    this.pendingBytes += frame.length;
    if (this.pendingBytes >= FLUSH_AT_BYTES) return this.flushOrFail();
    if (!dirty.has(this)) {
      dirty.add(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAll);
      }
    }
  }

  /** Writes what is queued now (also called before a close frame, so nothing queued is lost). */
  flush(): void {
    const pending = this.pending;
    this.pending = null;
    this.pendingBytes = 0;
    dirty.delete(this);
    if (pending === null || this.ws.readyState !== WebSocket.OPEN) return;
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
