// The cluster benchmark still runs end to end (tiny sizes, nothing recorded), as smoke.test.ts
// does for the others: a real 3+3 Redis Cluster and a single redis-server side by side, fan-out
// through two chat replicas on each, closed-loop senders at saturation, and (when the config has
// it) the cluster again with REDIS_ACK_REPLICAS. No timing is asserted — benchmarks report, tests
// assert behaviour: every row is a finite number, every acked message reached every member on
// both setups, and the cluster bus carried every publish (the per-node egress accounting sees it).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../../services/shared/config.js';

const TINY: Record<string, string> = {
  BENCH_RESULTS: 'off',
  BENCH_CLUSTER_ROOMS: '3',
  BENCH_CLUSTER_RECEIVERS: '4',
  // enough sends that the idle rate taken out of the bus count (probes: ~26 messages/s) is noise
  BENCH_CLUSTER_RATE: '100',
  BENCH_CLUSTER_SECS: '2',
  BENCH_CLUSTER_SAT_CLIENTS: '8',
  BENCH_CLUSTER_SAT_SECS: '1',
  BENCH_CLUSTER_ROUNDS: '1',
};

function runBench(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'cluster'], { env: { ...process.env, ...TINY }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => resolve({ code, out }));
  });
}

describe('cluster benchmark (smoke run, tiny sizes)', { timeout: 240_000 }, () => {
  it('measures fan-out and saturation on a 3+3 cluster and a single node, and prints finite numbers', async () => {
    const { code, out } = await runBench();
    expect(code, out.slice(-3000)).toBe(0);
    const rows = out.split('\n').filter((l) => l.startsWith('| cluster '));
    const cells = (metric: string) => rows.find((r) => r.split('|')[2]!.trim().startsWith(metric))?.split('|').map((c) => c.trim());
    expect(rows.filter((r) => !/^-?[\d,.]+$/.test(r.split('|')[3]!.trim())), 'rows with a non-numeric value (a failed setup or step)').toEqual([]);
    const expected = [
      'single: deliveries/s',
      'cluster: deliveries/s',
      'cluster: cluster-bus publish messages per send',
      'cluster master A',
      'single: acked sends/s at saturation',
      'cluster: acked sends/s at saturation',
      'cluster: Redis CPU per acked send at saturation, all nodes',
      ...('REDIS_ACK_REPLICAS' in envSchema.shape ? ['cluster + REDIS_ACK_REPLICAS=1: acked sends/s at saturation'] : []),
    ];
    for (const metric of expected) expect(cells(metric), metric).toBeDefined();
    // every acked message reached every member of its room, on both setups
    for (const mode of ['single', 'cluster']) expect(cells(`${mode}: deliveries/s`)![8], mode).toMatch(/^(\d+)\/\1 delivered$/);
    // every publish crossed the cluster bus: broadcast to every other node (5), or sharded to the
    // master's replica (1); less is what the egress accounting would say if it missed the bus
    expect(Number(cells('cluster: cluster-bus publish messages per send')![3])).toBeGreaterThanOrEqual(0.8);
    for (const mode of ['single', 'cluster']) expect(Number(cells(`${mode}: acked sends/s at saturation`)![3]!.replace(/,/g, '')), mode).toBeGreaterThan(0);
    expect(out).not.toContain('bench/RESULTS.md updated');
  });
});
