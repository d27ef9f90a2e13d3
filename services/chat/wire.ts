// Socket writes on the fan-out hot path: frames built once, coalesced per event-loop turn.
//
// 1. Built once. A server-to-client text frame is unmasked (RFC 6455 §5.3), so its bytes are the
//    same for every recipient: Fanout frames each published message ONCE per replica
//    (textFrame) and that Buffer is what every member's socket gets. Writing it goes through
//    ws's Sender.sendFrame, the way the ws maintainers suggested for broadcasts
//    (websockets/ws#617) and the way engine.io writes its pre-encoded broadcast frames. That is
//    only correct with per-message deflate off (the chat server's WebSocketServer has it off)
//    and while the sender has nothing queued (ws queues only while deflating or reading a Blob:
//    neither happens here). ws is pinned; wire.test.ts fails if a version drops sendFrame.
// 2. Coalesced. Every frame for a socket — fan-out, acks, errors, pongs — goes through its
//    SocketWriter, in order; a socket's frames queued within one turn of the event loop leave in
//    ONE write (one syscall) at setImmediate. At low rates that is one write per frame as
//    before; under load, when one read from Redis carries many messages, it is one write per
//    socket per read instead of one per message — profiling showed the write syscalls are most
//    of a replica's CPU (`npm run profile`).
import type { WebSocket } from 'ws';

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

const dirty = new Set<SocketWriter>();
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  // A flush may queue nothing new (writes happen synchronously), but iterate a snapshot anyway.
  const writers = [...dirty];
  dirty.clear();
  for (const w of writers) w.flush();
}

/** One socket's ordered outgoing frames, written at most once per event-loop turn. */
export class SocketWriter {
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  private readonly sender: FrameSender;

  constructor(private readonly ws: WebSocket) {
    this.sender = senderOf(ws);
  }

  /**
   * Bytes queued in this turn, not yet written. NOT part of the slow-consumer check: a healthy
   * reader can be sent a large burst in one turn (it is bounded by what one turn reads from
   * Redis); slow is what the kernel did not take from earlier writes (ws.bufferedAmount).
   */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /** Queues a frame made by textFrame; it leaves with the others queued in this turn. */
  write(frame: Buffer): void {
    if (this.pending === null) {
      this.pending = [frame];
      dirty.add(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAll);
      }
    } else {
      this.pending.push(frame);
    }
    this.pendingBytes += frame.length;
  }

  /** Writes what is queued now (also called before a close frame, so nothing queued is lost). */
  flush(): void {
    const pending = this.pending;
    if (pending === null) return;
    const bytes = this.pendingBytes;
    this.pending = null;
    this.pendingBytes = 0;
    dirty.delete(this);
    // 1 = OPEN: a socket that closed meanwhile takes nothing more.
    if (this.ws.readyState !== 1) return;
    this.sender.sendFrame([pending.length === 1 ? pending[0]! : Buffer.concat(pending, bytes)]);
  }
}
