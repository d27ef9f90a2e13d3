// The benchmark's side of bench/capacity/holder.ts: forks holder processes, spreads connection
// specs over them, and sums their counters.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ConnSpec, HolderCommand, HolderKind, HolderReply, HolderStats } from './holder.js';
import { LatencyHistogram } from '../load/histogram.js';

const HOLDER = fileURLToPath(new URL('./holder.ts', import.meta.url));

export class Holder {
  private nextId = 1;
  private readonly pending = new Map<number, (r: HolderReply) => void>();
  readonly exited: Promise<void>;
  /** How many connections this holder was given (indexes for `traffic` are per holder). */
  size = 0;

  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: { id: number } & HolderReply) => {
      const resolve = this.pending.get(m.id);
      this.pending.delete(m.id);
      resolve?.(m);
    });
    this.exited = new Promise((resolve) =>
      proc.once('exit', () => {
        for (const r of this.pending.values()) r({ ok: false, error: 'holder exited' });
        this.pending.clear();
        resolve();
      }),
    );
  }

  /** `nodeArgs`: extra node flags (e.g. --cpu-prof). */
  static spawn(nodeArgs: string[] = []): Holder {
    const proc = fork(HOLDER, [], {
      execArgv: [...nodeArgs, '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    return new Holder(proc);
  }

  async request(cmd: HolderCommand): Promise<Extract<HolderReply, { ok: true }>> {
    if (this.proc.exitCode !== null || !this.proc.connected) throw new Error('holder is not running');
    const id = this.nextId++;
    const reply = await new Promise<HolderReply>((resolve) => {
      this.pending.set(id, resolve);
      this.proc.send({ id, ...cmd });
    });
    if (!reply.ok) throw new Error(`holder ${cmd.cmd} failed: ${reply.error}`);
    return reply;
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    await this.request({ cmd: 'close' }).catch(() => {});
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(killer);
  }
}

export class HolderPool {
  private constructor(readonly holders: Holder[]) {}

  static spawn(count: number, nodeArgs: (i: number) => string[] = () => []): HolderPool {
    return new HolderPool(Array.from({ length: Math.max(1, count) }, (_, i) => Holder.spawn(nodeArgs(i))));
  }

  /**
   * Opens `conns` spread over the holders (connection i goes to holder i mod count); returns
   * where each landed ([holder, index in it]) and the totals.
   */
  async open(
    kind: HolderKind,
    conns: ConnSpec[],
    { concurrency = 50, tokenTtlSec = 3600 } = {},
  ): Promise<{ opened: number; failed: number; firstError?: string; placement: [number, number][] }> {
    const parts: ConnSpec[][] = this.holders.map(() => []);
    const placement: [number, number][] = [];
    conns.forEach((c, i) => {
      const h = i % this.holders.length;
      placement.push([h, this.holders[h]!.size + parts[h]!.length]);
      parts[h]!.push(c);
    });
    const replies = await Promise.all(
      this.holders.map((h, i) =>
        parts[i]!.length === 0 ? ({ ok: true, opened: 0, failed: 0 } as Extract<HolderReply, { ok: true }>) : h.request({ cmd: 'open', kind, conns: parts[i]!, concurrency, tokenTtlSec }),
      ),
    );
    this.holders.forEach((h, i) => (h.size += parts[i]!.length));
    const firstError = replies.find((r) => r.firstError)?.firstError;
    return {
      opened: replies.reduce((s, r) => s + (r.opened ?? 0), 0),
      failed: replies.reduce((s, r) => s + (r.failed ?? 0), 0),
      ...(firstError ? { firstError } : {}),
      placement,
    };
  }

  async all(cmd: HolderCommand): Promise<void> {
    await Promise.all(this.holders.map((h) => h.request(cmd)));
  }

  async stats(): Promise<HolderStats> {
    const each = await Promise.all(this.holders.map((h) => h.request({ cmd: 'stats' })));
    const sum: HolderStats = { open: 0, acks: 0, errors: {}, messages: 0, frames: 0, bytes: 0, dropped: 0 };
    for (const { stats: s } of each) {
      if (!s) continue;
      sum.open += s.open;
      sum.acks += s.acks;
      sum.messages += s.messages;
      sum.frames += s.frames;
      sum.bytes += s.bytes;
      sum.dropped += s.dropped;
      for (const [k, v] of Object.entries(s.errors)) sum.errors[k] = (sum.errors[k] ?? 0) + v;
    }
    return sum;
  }

  /** The delivery latency (µs) of stamp step `step` (a `traffic` with `stamp`), all holders merged. */
  async latency(step: number): Promise<LatencyHistogram> {
    const each = await Promise.all(this.holders.map((h) => h.request({ cmd: 'stats', latency: step })));
    const merged = new LatencyHistogram();
    for (const r of each) if (r.latency) merged.merge(LatencyHistogram.fromSparse(r.latency));
    return merged;
  }

  async close(): Promise<void> {
    await Promise.all(this.holders.map((h) => h.close()));
  }
}

/** "rate_limited 3, overloaded 1" (or "none"). */
export function formatErrors(errors: Record<string, number>): string {
  const parts = Object.entries(errors).map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : 'none';
}
