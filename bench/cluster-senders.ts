// Closed-loop senders for the cluster benchmark's saturation step (bench/cluster.bench.ts): a
// child process (forked by SenderPool below) holding AuroraChat connections, each joined to its
// own room and keeping `window` sends in flight — the next send leaves when an ack (or a refusal)
// comes back — and timing every send -> ack into a latency histogram. The capacity benchmark's
// holders (bench/capacity/holder.ts) count acks but keep no latency, and the fan-out generator
// (bench/load/generator.ts) sends open loop at a fixed rate: neither gives "ack p99 at
// saturation". Kept in a child so its CPU never counts as a server's.
//
// Parent <-> child over IPC: {id, cmd, ...} -> {id, ok, ...}:
//   open {conns}       -> {opened, failed, firstError?}   connect, wait for hello, join the room
//   start {window, text}                                  every connection starts saturating
//   mark               -> {acks, errors, hist}            counters and latency since the last mark
//   stop                                                  no further sends; answers once the in-flight ones
//                                                         are acked (or after 5 s)
//   close                                                 terminate every socket and exit
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { ORIGIN, tokenFor } from '../test/chat/client.js';
import { LatencyHistogram, type SparseHistogram } from './load/histogram.js';

export interface SenderSpec {
  /** ws://host:port/ws */
  url: string;
  user: string;
  room: string;
}

export interface Marked {
  acks: number;
  errors: Record<string, number>;
  hist: { buckets: SparseHistogram; maxUs: number };
}

type Command =
  | { cmd: 'open'; conns: SenderSpec[] }
  | { cmd: 'start'; window: number; text: string }
  | { cmd: 'mark' }
  | { cmd: 'stop' }
  | { cmd: 'close' };

type Reply = { ok: true; opened?: number; failed?: number; firstError?: string; marked?: Marked } | { ok: false; error: string };

// ---- the child ----

interface Conn {
  spec: SenderSpec;
  ws: WebSocket;
  seq: number;
  inflight: number;
  /** cid -> send time (hrtime ns as a number). */
  sentAt: Map<string, number>;
}

const ACK = Buffer.from('{"type":"ack"');
const ERROR = Buffer.from('{"type":"error"');
const startsWith = (b: Buffer, p: Buffer) => b.length >= p.length && b.compare(p, 0, p.length, 0, p.length) === 0;
const hrNow = () => Number(process.hrtime.bigint());

function child(): void {
  const conns: Conn[] = [];
  let running = false;
  let window = 1;
  let text = 'x';
  let acks = 0;
  let errors: Record<string, number> = {};
  let hist = new LatencyHistogram();

  const sendOne = (c: Conn) => {
    if (!running || c.ws.readyState !== WebSocket.OPEN) return;
    const cid = `k${c.seq++}`;
    c.inflight++;
    c.sentAt.set(cid, hrNow());
    c.ws.send(`{"type":"send","room":${JSON.stringify(c.spec.room)},"text":${JSON.stringify(text)},"cid":"${cid}"}`);
  };
  const settle = (c: Conn, cid: string | undefined): number | undefined => {
    const t = cid === undefined ? undefined : c.sentAt.get(cid);
    if (t === undefined) return undefined;
    c.sentAt.delete(cid!);
    c.inflight--;
    return t;
  };
  const onFrame = (c: Conn, data: Buffer) => {
    // Own messages come back too (the sender is its room's member): skipped unparsed.
    if (startsWith(data, ACK)) {
      const t = settle(c, (JSON.parse(data.toString()) as { cid?: string }).cid);
      if (t === undefined) return;
      acks++;
      hist.record((hrNow() - t) / 1000);
      while (running && c.inflight < window) sendOne(c);
    } else if (startsWith(data, ERROR)) {
      const f = JSON.parse(data.toString()) as { code?: string; ref?: string };
      const code = String(f.code);
      errors[code] = (errors[code] ?? 0) + 1;
      // A refusal (overloaded, rate_limited) frees its slot; the next send waits a little rather than hammer.
      if (settle(c, f.ref) !== undefined) setTimeout(() => running && c.inflight < window && sendOne(c), 50);
    }
  };

  const openOne = (spec: SenderSpec) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(spec.url, ['aurora.v1', `bearer.${tokenFor(spec.user, spec.user, 3600)}`], { headers: { origin: ORIGIN }, perMessageDeflate: false });
      const c: Conn = { spec, ws, seq: 0, inflight: 0, sentAt: new Map() };
      let up = false;
      const timer = setTimeout(() => fail('timed out opening'), 30_000);
      const fail = (why: string) => {
        if (up) return;
        up = true;
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(why));
      };
      ws.on('message', (data: Buffer) => {
        if (up) return onFrame(c, data);
        const f = JSON.parse(data.toString()) as { type: string };
        if (f.type === 'hello') ws.send(JSON.stringify({ type: 'join', room: spec.room }));
        else if (f.type === 'joined') {
          up = true;
          clearTimeout(timer);
          conns.push(c);
          resolve();
        } else if (f.type === 'error') fail(`join refused: ${data.toString()}`);
      });
      ws.on('unexpected-response', (_q, res) => fail(`upgrade refused: ${res.statusCode}`));
      ws.on('error', (err) => fail(err.message));
      ws.on('close', () => fail('closed while opening'));
    });

  const handle = async (m: Command): Promise<Reply> => {
    switch (m.cmd) {
      case 'open': {
        let opened = 0;
        let failed = 0;
        let firstError: string | undefined;
        let next = 0;
        // Bounded concurrency: a burst of handshakes would measure the accept queue.
        await Promise.all(
          Array.from({ length: 25 }, async () => {
            while (next < m.conns.length) {
              const spec = m.conns[next++]!;
              await openOne(spec).then(
                () => void opened++,
                (err: Error) => {
                  failed++;
                  firstError ??= err.message;
                },
              );
            }
          }),
        );
        return { ok: true, opened, failed, ...(firstError ? { firstError } : {}) };
      }
      case 'start':
        running = true;
        window = m.window;
        text = m.text;
        for (const c of conns) while (c.inflight < window) sendOne(c);
        return { ok: true };
      case 'mark': {
        const marked: Marked = { acks, errors, hist: hist.toSparse() };
        acks = 0;
        errors = {};
        hist = new LatencyHistogram();
        return { ok: true, marked };
      }
      case 'stop': {
        running = false;
        const deadline = Date.now() + 5000;
        while (conns.some((c) => c.inflight > 0 && c.ws.readyState === WebSocket.OPEN) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        return { ok: true };
      }
      case 'close':
        running = false;
        for (const c of conns) c.ws.terminate();
        setTimeout(() => process.exit(0), 50);
        return { ok: true };
    }
  };
  process.on('message', (m: { id: number } & Command) => {
    handle(m).then(
      (r) => process.send!({ id: m.id, ...r }),
      (err: unknown) => process.send!({ id: m.id, ok: false, error: String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- the parent's side ----

const SELF = fileURLToPath(import.meta.url);

class SenderProc {
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  readonly exited: Promise<void>;

  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: { id: number } & Reply) => {
      this.pending.get(m.id)?.(m);
      this.pending.delete(m.id);
    });
    this.exited = new Promise((resolve) =>
      proc.once('exit', () => {
        for (const r of this.pending.values()) r({ ok: false, error: 'sender process exited' });
        this.pending.clear();
        resolve();
      }),
    );
  }

  async request(cmd: Command): Promise<Extract<Reply, { ok: true }>> {
    if (this.proc.exitCode !== null || !this.proc.connected) throw new Error('sender process is not running');
    const id = this.nextId++;
    const r = await new Promise<Reply>((resolve) => {
      this.pending.set(id, resolve);
      this.proc.send({ id, ...cmd });
    });
    if (!r.ok) throw new Error(`senders ${cmd.cmd} failed: ${r.error}`);
    return r;
  }
}

/** `count` sender processes; connections are dealt round-robin over them. */
export class SenderPool {
  private constructor(readonly procs: SenderProc[]) {}

  static spawn(count: number): SenderPool {
    return new SenderPool(
      Array.from({ length: Math.max(1, count) }, () => new SenderProc(fork(SELF, ['--child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, NODE_OPTIONS: '' } }))),
    );
  }

  pids(): number[] {
    return this.procs.map((p) => p.proc.pid!);
  }

  async open(conns: SenderSpec[]): Promise<{ opened: number; failed: number; firstError?: string }> {
    const parts = this.procs.map((_, i) => conns.filter((_c, j) => j % this.procs.length === i));
    const rs = await Promise.all(this.procs.map((p, i) => p.request({ cmd: 'open', conns: parts[i]! })));
    const firstError = rs.find((r) => r.firstError)?.firstError;
    return { opened: rs.reduce((a, r) => a + (r.opened ?? 0), 0), failed: rs.reduce((a, r) => a + (r.failed ?? 0), 0), ...(firstError ? { firstError } : {}) };
  }

  async all(cmd: Extract<Command, { cmd: 'start' | 'stop' }>): Promise<void> {
    await Promise.all(this.procs.map((p) => p.request(cmd)));
  }

  /** Acks, refusals and send -> ack latency since the previous mark, over every process. */
  async mark(): Promise<{ acks: number; errors: Record<string, number>; hist: LatencyHistogram }> {
    const rs = await Promise.all(this.procs.map((p) => p.request({ cmd: 'mark' })));
    const hist = new LatencyHistogram();
    const errors: Record<string, number> = {};
    let acks = 0;
    for (const { marked } of rs) {
      if (!marked) continue;
      acks += marked.acks;
      hist.merge(LatencyHistogram.fromSparse(marked.hist));
      for (const [k, v] of Object.entries(marked.errors)) errors[k] = (errors[k] ?? 0) + v;
    }
    return { acks, errors, hist };
  }

  async close(): Promise<void> {
    await Promise.all(
      this.procs.map(async (p) => {
        if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
        await p.request({ cmd: 'close' }).catch(() => {});
        const killer = setTimeout(() => p.proc.kill('SIGKILL'), 3000);
        await p.exited;
        clearTimeout(killer);
      }),
    );
  }
}

if (process.argv.includes('--child') && process.send) child();
