// Where does an idle connection's memory go? A diagnostic for the capacity benchmark's "RSS per
// idle authenticated connection", on a replica process started with --heapsnapshot-signal:
// 1. after WARMUP connections and again after N more: RSS (settled) and V8's own accounting
//    per heap space (used / reserved) and external memory — what is V8 heap and what is not;
// 2. a heap snapshot (V8 forces a full GC before writing one), N more connections, another
//    snapshot; the difference aggregated by object kind (snapshot node type + constructor
//    name), per connection: what the live objects are.
//
// Run: node --import tsx bench/capacity/heap-diff.ts [N=2000] [top=30] [floor]
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chatEnv, JWT_SECRET } from '../../test/chat/client.js';
import { waitFor } from '../../test/helpers/ports.js';
import { startRedis } from '../../test/helpers/redis-server.js';
import { startService } from '../../test/helpers/service.js';
import { HolderPool } from './holders.js';
import { metricBy, metricSum, rssByMapping, scrape, settledRss, startBenchServer, WS_FLOOR } from './measure.js';

const N = Number(process.argv[2] ?? 2000);
const TOP = Number(process.argv[3] ?? 30);
/** `floor`: the bare ws server (ws-floor-server.ts) instead of a replica, for comparison. */
const FLOOR = process.argv[4] === 'floor';
const WARMUP = 100;

interface Kind {
  count: number;
  bytes: number;
}

/** self_size and count per "type:name" of every node in a .heapsnapshot file. */
export function aggregate(file: string): Map<string, Kind> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, Kind>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    let name = snap.strings[snap.nodes[i + nameAt]!]!;
    // Strings and code are named by their content: lump them by type.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'code' || type === 'number') name = '';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}:${name}`;
    const k = out.get(key) ?? { count: 0, bytes: 0 };
    k.count++;
    k.bytes += snap.nodes[i + sizeAt]!;
    out.set(key, k);
  }
  return out;
}

async function snapshot(pid: number, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const file = await waitFor(
    () => {
      const f = readdirSync(dir).find((n) => n.endsWith('.heapsnapshot') && !before.has(n));
      return f ? join(dir, f) : undefined;
    },
    { timeoutMs: 120_000, what: 'a heap snapshot file' },
  );
  // Written synchronously by the process; done when its size stops changing.
  let last = -1;
  await waitFor(
    () => {
      const size = statSync(file).size;
      const done = size > 0 && size === last;
      last = size;
      return done;
    },
    { timeoutMs: 120_000, intervalMs: 1000, what: 'the heap snapshot to be complete' },
  );
  return file;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aurora-heap-'));
  const redis = await startRedis();
  const nodeOptions = `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
  const chat = FLOOR
    ? await startBenchServer(WS_FLOOR, { JWT_SECRET, NODE_OPTIONS: nodeOptions })
    : await startService(
        'chat',
        chatEnv(redis.url, 'heap', { LOG_LEVEL: 'warn', MAX_CONNECTIONS: String(2 * N + WARMUP + 100), NODE_OPTIONS: nodeOptions }),
        { waitReady: true },
      );
  const pid = chat.proc.pid!;
  const pool = HolderPool.spawn(Math.ceil((2 * N + WARMUP) / 2500));
  const v8mem = async () => {
    // The floor server has no /metrics.
    const t = 'adminUrl' in chat ? await scrape(chat.adminUrl) : '';
    return {
      used: metricBy(t, 'nodejs_heap_space_size_used_bytes', 'space'),
      total: metricBy(t, 'nodejs_heap_space_size_total_bytes', 'space'),
      external: metricSum(t, 'nodejs_external_memory_bytes'),
    };
  };
  const open = async (prefix: string, n: number) => {
    const r = await pool.open('aurora', Array.from({ length: n }, (_, i) => ({ url: chat.baseUrl, user: `${prefix}${i}` })));
    if (r.failed) throw new Error(`${r.failed} connections failed: ${r.firstError}`);
  };
  const out = (l: string) => process.stdout.write(`${l}\n`);
  const kib = (bytes: number) => (bytes / 1024 / N).toFixed(3);
  try {
    // 1. RSS and V8's per-space accounting over N connections, no snapshot yet (a snapshot
    //    allocates a lot itself and RSS keeps some of it).
    await open('warm', WARMUP);
    const rss0 = (await settledRss(pid)).kib;
    const maps0 = rssByMapping(pid);
    const m0 = await v8mem();
    await open('a', N);
    const rss1 = (await settledRss(pid)).kib;
    const maps1 = rssByMapping(pid);
    const m1 = await v8mem();
    out(`${FLOOR ? 'bare ws server' : 'chat replica'}: ${N} idle authenticated connections (after ${WARMUP} warm-up ones), per connection:`);
    out(`  RSS                           ${((rss1 - rss0) / N).toFixed(3)} KiB  (${Math.round(rss0 / 1024)} -> ${Math.round(rss1 / 1024)} MiB)`);
    out(
      `    by mapping: ${(['brk', 'anon', 'file', 'other'] as const).map((k) => `${k} ${((maps1[k] - maps0[k]) / N).toFixed(3)}`).join(', ')} KiB` +
        ' (brk = glibc main malloc arena; anon = V8 heap pages, big mmapped mallocs, thread arenas)',
    );
    const sum = (o: Record<string, number>) => Object.values(o).reduce((s, v) => s + v, 0);
    if (!FLOOR) out(`  V8 heap used (no forced GC)   ${kib(sum(m1.used) - sum(m0.used))} KiB`);
    if (!FLOOR) out(`  V8 heap reserved              ${kib(sum(m1.total) - sum(m0.total))} KiB`);
    for (const space of Object.keys(m1.total)) {
      const dt = m1.total[space]! - (m0.total[space] ?? 0);
      const du = m1.used[space]! - (m0.used[space] ?? 0);
      if (Math.abs(dt) + Math.abs(du) > 64 * 1024) out(`    ${space.padEnd(26)} used ${kib(du).padStart(7)}  reserved ${kib(dt).padStart(7)} KiB`);
    }
    if (!FLOOR) out(`  external                      ${kib(m1.external - m0.external)} KiB`);

    // 2. What the live objects are: heap snapshots (each after a full GC) around N more.
    const s0 = await snapshot(pid, dir);
    await open('b', N);
    const s1 = await snapshot(pid, dir);
    const a = aggregate(s0);
    const b = aggregate(s1);
    const rows = [...b.entries()]
      .map(([key, k]) => {
        const o = a.get(key) ?? { count: 0, bytes: 0 };
        return { key, dCount: k.count - o.count, dBytes: k.bytes - o.bytes };
      })
      .sort((x, y) => y.dBytes - x.dBytes);
    const total = rows.reduce((s, r) => s + r.dBytes, 0);
    out(`  live objects (heap snapshots around ${N} more; sum of self sizes) ${kib(total)} KiB`);
    out(`top ${TOP} object kinds by growth (type:constructor, objects per connection, KiB per connection):`);
    for (const r of rows.slice(0, TOP)) out(`  ${r.key.padEnd(64)} ${(r.dCount / N).toFixed(2).padStart(7)} ${kib(r.dBytes).padStart(8)}`);
  } finally {
    await pool.close();
    await chat.stop(...(FLOOR ? [] : (['SIGKILL'] as const)));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
