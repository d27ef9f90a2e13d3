// A minimal WebSocket client for the load generator's receiving members: the RFC 6455 client
// handshake on a plain TCP socket, then frames parsed in place from the socket's chunks and
// handed over as (buffer, start, end) — no per-frame stream machinery, copy or event, so one
// delivery costs the generator little more than the kernel's read. It understands what a
// server sends to a client (unmasked, unfragmented text/binary frames, ping, close) and sends
// masked frames (zero mask key: servers only require the mask bit). Used for every system alike
// so the client cost per delivery is the same whatever is measured.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface RawWsOptions {
  url: string;
  protocols?: string[];
  headers?: Record<string, string>;
  /** A text or binary frame's payload is buf[start, end) (valid only during the call). */
  onFrame(buf: Buffer, start: number, end: number): void;
  onClose(reason: string): void;
}

export class RawWebSocket {
  private readonly socket: Socket;
  private pending: Buffer | null = null;
  private upgraded = false;
  private closed = false;
  readonly opened: Promise<void>;

  constructor(private readonly opts: RawWsOptions) {
    const u = new URL(opts.url);
    this.socket = connect({ host: u.hostname, port: Number(u.port || 80), noDelay: true });
    const lines = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      ...(opts.protocols ? [`Sec-WebSocket-Protocol: ${opts.protocols.join(', ')}`] : []),
      ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    ];
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('connect', () => this.socket.write(`${lines.join('\r\n')}\r\n\r\n`));
      this.socket.on('data', (chunk: Buffer) => {
        if (this.upgraded) return this.frames(chunk);
        const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) {
          this.pending = buf;
          return;
        }
        const status = buf.toString('latin1', 0, buf.indexOf('\r\n'));
        if (!/^HTTP\/1\.1 101 /.test(status)) {
          reject(new Error(`upgrade refused: ${status}`));
          this.close();
          return;
        }
        this.upgraded = true;
        this.pending = null;
        resolve();
        if (buf.length > end + 4) this.frames(buf.subarray(end + 4));
      });
      this.socket.once('error', (err) => {
        reject(err);
        this.finish(String(err));
      });
      this.socket.once('close', () => {
        reject(new Error('closed'));
        this.finish('closed');
      });
    });
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.onClose(reason);
  }

  private frames(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let o = 0;
    const n = buf.length;
    while (n - o >= 2) {
      const b0 = buf[o]!;
      const b1 = buf[o + 1]!;
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (n - o < 4) break;
        len = buf.readUInt16BE(o + 2);
        hdr = 4;
      } else if (len === 127) {
        if (n - o < 10) break;
        len = buf.readUInt32BE(o + 6);
        hdr = 10;
      }
      if (b1 & 0x80 || (b0 & 0x80) === 0) {
        this.finish('masked or fragmented server frame (unsupported)');
        this.socket.destroy();
        return;
      }
      if (n - o < hdr + len) break;
      const start = o + hdr;
      const end = start + len;
      const opcode = b0 & 0x0f;
      if (opcode === 1 || opcode === 2) this.opts.onFrame(buf, start, end);
      else if (opcode === 9) this.writeFrame(0x8a, buf.subarray(start, end));
      else if (opcode === 8) {
        this.writeFrame(0x88, buf.subarray(start, Math.min(end, start + 2)));
        this.socket.end();
        this.finish('close frame');
        return;
      }
      o = end;
    }
    if (o < n) this.pending = Buffer.from(buf.subarray(o)); // copy: the chunk may be reused
  }

  private writeFrame(b0: number, payload: Buffer): void {
    if (this.closed) return;
    const len = payload.length;
    const head = len < 126 ? Buffer.from([b0, 0x80 | len, 0, 0, 0, 0]) : Buffer.from([b0, 0x80 | 126, len >> 8, len & 0xff, 0, 0, 0, 0]);
    if (len >= 65536) throw new Error('frame too large for this client');
    this.socket.write(Buffer.concat([head, payload]));
  }

  send(text: string): void {
    this.writeFrame(0x81, Buffer.from(text, 'utf8'));
  }

  close(): void {
    this.socket.destroy();
    this.finish('closed by client');
  }
}
