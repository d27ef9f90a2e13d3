// The control protocol between a benchmark (parent) and its load-generator processes
// (bench/load/generator.ts), and the parent's handle on one generator. The child is spawned
// with `node --import tsx bench/load/generator.ts` and an IPC channel; every request carries a
// sequence number `seq` and is answered by exactly one reply with the same `seq`:
//
//   setup {target, urls?, secret, receivers, senders, eventTargets?}  -> ready {connected, ms}
//       connects every client (bounded concurrency) and joins its rooms; rejects if any fails.
//       eventTargets (AuroraChat only): then every sender posts one message to each of its
//       rooms and keeps its id — the message its `change` steps edit or react to
//   run {step, rate, durationMs, payloadBytes, change?} -> sent {sent, acked, errors, ackedByRoom}
//       this process's senders send `rate` msg/s in total for durationMs (absolute schedule, no
//       drift), then waits (bounded) for outstanding acks. With `change` they send that event
//       instead of messages: `edit` (their target's text, payloadBytes long) or `react` (👍,
//       on and off in turn, so every one is a change); an `unchanged` ack is counted as an error
//   count {step}                                        -> count {deliveries}
//       how many deliveries of `step` this process's members have received so far (cheap poll)
//   stats {step}                                        -> stats {deliveries, hist, disconnected}
//       the same with the latency histogram (µs) and the members whose socket closed
//   close                                               -> closed   (then the child exits)
//
// A failure is answered as {seq, error}. Message text is the stamp `B<step>.<hrtime ns>.` padded
// with 'x' to payloadBytes, an event's cid starts `B<step>_<hrtime ns>_` (bench/load/stamps.ts);
// process.hrtime.bigint() is CLOCK_MONOTONIC, so a receiver in another process on the same
// machine subtracts it from its own clock to get end-to-end latency.
import { spawn, type ChildProcess } from 'node:child_process';
import type { SparseHistogram } from './histogram.js';

export type TargetKind = 'aurora' | 'socketio' | 'seed' | 'wsfloor';
/** What a `run` step sends: messages (default) or one kind of AuroraChat event. */
export type ChangeKind = 'edit' | 'react';

export interface ClientPlan {
  /** User id (the token's sub and name). */
  user: string;
  url: string;
  rooms: string[];
}

export type Request =
  | { op: 'setup'; target: TargetKind; secret: string; receivers: ClientPlan[]; senders: ClientPlan[]; origin?: string; eventTargets?: boolean }
  /** phase (0..1): the schedule starts that fraction of one interval late, so that generators
   *  started together interleave their sends evenly instead of sending in bursts of one per generator. */
  | { op: 'run'; step: number; rate: number; durationMs: number; payloadBytes: number; change?: ChangeKind; phase?: number }
  | { op: 'count'; step: number }
  | { op: 'stats'; step: number }
  | { op: 'close' };

export interface SentReply {
  sent: number;
  acked: number;
  errors: Record<string, number>;
  ackedByRoom: Record<string, number>;
  /** Send -> ack latency histogram (µs). */
  ackHist: { buckets: SparseHistogram; maxUs: number };
}

export interface StatsReply {
  deliveries: number;
  hist: { buckets: SparseHistogram; maxUs: number };
  /** Members whose socket closed since setup. */
  disconnected: number;
}

export type Reply =
  | { seq: number; error: string }
  | ({ seq: number; kind: 'ready' } & { connected: number; ms: number })
  | ({ seq: number; kind: 'sent' } & SentReply)
  | { seq: number; kind: 'count'; deliveries: number }
  | ({ seq: number; kind: 'stats' } & StatsReply)
  | { seq: number; kind: 'closed' };

type Kind = Exclude<Reply, { error: string }>['kind'];
type Body<K> = Omit<Extract<Reply, { kind: K }>, 'seq' | 'kind'>;

/** The parent's handle on one generator process. */
export class GeneratorHandle {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  readonly exited: Promise<number | null>;

  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: Reply) => {
      const p = this.pending.get(m.seq);
      if (!p) return;
      this.pending.delete(m.seq);
      if ('error' in m) p.reject(new Error(`generator ${proc.pid}: ${m.error}`));
      else p.resolve(m);
    });
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code) => {
        for (const p of this.pending.values()) p.reject(new Error(`generator ${proc.pid} exited with ${code}`));
        this.pending.clear();
        resolve(code);
      }),
    );
  }

  /** `nodeArgs` e.g. ['--cpu-prof', '--cpu-prof-dir', dir] (the profile is written on close). */
  static spawn(nodeArgs: string[] = []): GeneratorHandle {
    const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'bench/load/generator.ts'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new GeneratorHandle(proc);
  }

  private request<K extends Kind>(req: Request): Promise<Body<K>> {
    const seq = ++this.seq;
    return new Promise<Body<K>>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as unknown as (r: Reply) => void, reject });
      this.proc.send({ ...req, seq });
    });
  }

  setup(req: Omit<Extract<Request, { op: 'setup' }>, 'op'>): Promise<Body<'ready'>> {
    return this.request<'ready'>({ op: 'setup', ...req });
  }

  run(req: Omit<Extract<Request, { op: 'run' }>, 'op'>): Promise<Body<'sent'>> {
    return this.request<'sent'>({ op: 'run', ...req });
  }

  async count(step: number): Promise<number> {
    return (await this.request<'count'>({ op: 'count', step })).deliveries;
  }

  stats(step: number): Promise<Body<'stats'>> {
    return this.request<'stats'>({ op: 'stats', step });
  }

  /** Asks the child to close its sockets and exit; kills it if it has not after 5 s. */
  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    try {
      await this.request<'closed'>({ op: 'close' }).catch(() => undefined);
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}
