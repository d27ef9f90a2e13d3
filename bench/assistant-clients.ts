// The assistant benchmark's clients (bench/assistant.bench.ts):
// - TimedClient: a protocol v1 client (the `ws` library) that stamps every frame with its arrival
//   time (performance.now()) and resolves waits when the frame ARRIVES — a latency measured by
//   polling would be rounded up to the poll interval. Used by askers and watchers (few, low volume).
// - Receivers: the many members that only receive, each a RawWebSocket (bench/load/raw-ws.ts, as
//   the load generator's members): frames are classified by their first bytes and counted with
//   their sizes, never parsed, so the bench process keeps up with thousands of frames a second
//   and what is measured is the replicas' work, not a client's.
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { ORIGIN, tokenFor, type Frame } from '../test/chat/client.js';
import { RawWebSocket } from './load/raw-ws.js';
import { startsWith } from './load/stamps.js';

export interface Timed {
  f: Frame;
  /** performance.now() when the frame arrived. */
  at: number;
  /** Its payload size on the wire. */
  bytes: number;
}

type Pred = (t: Timed) => boolean;

export class TimedClient {
  readonly frames: Timed[] = [];
  private readonly waits = new Set<{ pred: Pred; done: (t: Timed) => void }>();
  private seq = 0;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const t: Timed = { f: JSON.parse(data.toString()) as Frame, at: performance.now(), bytes: data.length };
      this.frames.push(t);
      for (const w of this.waits) if (w.pred(t)) w.done(t);
    });
    ws.on('error', () => {});
  }

  static async open(wsUrl: string, user: string): Promise<TimedClient> {
    // no compression: the receivers cannot negotiate it either, and the server does not offer it
    const ws = new WebSocket(wsUrl, ['aurora.v1', `bearer.${tokenFor(user)}`], { headers: { origin: ORIGIN }, perMessageDeflate: false });
    const c = new TimedClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    await c.until((t) => t.f.type === 'hello', 10_000, 'hello');
    return c;
  }

  /** The first frame (already here or still to come) matching; rejects after timeoutMs. */
  until(pred: Pred, timeoutMs: number, what: string): Promise<Timed> {
    const found = this.frames.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        done: (t: Timed) => {
          clearTimeout(timer);
          this.waits.delete(w);
          resolve(t);
        },
      };
      const timer = setTimeout(() => {
        this.waits.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waits.add(w);
    });
  }

  async join(room: string): Promise<void> {
    this.ws.send(JSON.stringify({ type: 'join', room }));
    const t = await this.until((x) => (x.f.type === 'joined' && x.f.room === room) || x.f.type === 'error', 10_000, `joined ${room}`);
    if (t.f.type === 'error') throw new Error(`join ${room} refused: ${JSON.stringify(t.f)}`);
  }

  /** Sends a message; resolves with its ack (or error) frame. */
  send(room: string, text: string, timeoutMs = 10_000): Promise<Timed> {
    const cid = `b${++this.seq}-${Math.random().toString(36).slice(2, 8)}`;
    const reply = this.until((t) => (t.f.type === 'ack' && t.f.cid === cid) || (t.f.type === 'error' && t.f.ref === cid), timeoutMs, `ack of ${cid}`);
    this.ws.send(JSON.stringify({ type: 'send', room, text, cid }));
    return reply;
  }

  /** Drops what was recorded (a long run would otherwise keep every frame). */
  forget(): void {
    this.frames.length = 0;
  }

  close(): void {
    this.ws.terminate();
  }
}

const DELTA = Buffer.from('{"type":"delta"');
const MESSAGE = Buffer.from('{"type":"message"');
const EVENT = Buffer.from('{"type":"event"');
const PRESENCE = Buffer.from('{"type":"presence"');

export interface Counts {
  deltas: number;
  deltaBytes: number;
  messages: number;
  messageBytes: number;
  events: number;
  /** Members whose socket closed. */
  closed: number;
}

/** `n` receiving members of one room, spread round-robin over the replicas' urls. */
export class Receivers {
  readonly counts: Counts = { deltas: 0, deltaBytes: 0, messages: 0, messageBytes: 0, events: 0, closed: 0 };
  private readonly sockets: RawWebSocket[] = [];
  private readonly waits = new Set<{ key: 'messages' | 'events'; target: number; done: () => void }>();

  static async connect(urls: string[], room: string, n: number, prefix: string): Promise<Receivers> {
    const r = new Receivers();
    const CONCURRENCY = 50;
    for (let i = 0; i < n; i += CONCURRENCY) {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n - i) }, (_, k) => r.member(urls[(i + k) % urls.length]!, room, `${prefix}${i + k}`)));
    }
    return r;
  }

  private member(url: string, room: string, user: string): Promise<void> {
    let joined = false;
    return new Promise<void>((resolve, reject) => {
      const ws = new RawWebSocket({
        url,
        protocols: ['aurora.v1', `bearer.${tokenFor(user)}`],
        headers: { Origin: ORIGIN },
        onFrame: (buf, start, end) => {
          const c = this.counts;
          if (startsWith(buf, DELTA, start, end)) {
            c.deltas++;
            c.deltaBytes += end - start;
          } else if (startsWith(buf, MESSAGE, start, end)) {
            c.messages++;
            c.messageBytes += end - start;
            this.check('messages');
          } else if (startsWith(buf, EVENT, start, end)) {
            c.events++;
            this.check('events');
          } else if (!joined && !startsWith(buf, PRESENCE, start, end)) {
            const f = JSON.parse(buf.toString('utf8', start, end)) as Frame;
            if (f.type === 'joined' && f.room === room) {
              joined = true;
              resolve();
            } else if (f.type === 'error') reject(new Error(`${user}: join refused: ${JSON.stringify(f)}`));
          }
        },
        onClose: (reason) => {
          this.counts.closed++;
          reject(new Error(`${user}: closed before joined: ${reason}`));
        },
      });
      this.sockets.push(ws);
      ws.opened.then(() => ws.send(JSON.stringify({ type: 'join', room })), reject);
    });
  }

  private check(key: 'messages' | 'events'): void {
    if (this.waits.size === 0) return;
    for (const w of this.waits) if (w.key === key && this.counts[key] >= w.target) w.done();
  }

  /** Resolves once counts[key] reaches target; rejects after timeoutMs. */
  when(key: 'messages' | 'events', target: number, timeoutMs: number): Promise<void> {
    if (this.counts[key] >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = {
        key,
        target,
        done: () => {
          clearTimeout(timer);
          this.waits.delete(w);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waits.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms: ${this.counts[key]} of ${target} ${key} received`));
      }, timeoutMs);
      this.waits.add(w);
    });
  }

  get size(): number {
    return this.sockets.length;
  }

  snapshot(): Counts {
    return { ...this.counts };
  }

  close(): void {
    for (const s of this.sockets) s.close();
  }
}
