// Cluster benchmark (issue 18, "Scale evidence"): live fan-out and acked sends on a real Redis
// Cluster (3 masters + 3 replicas, test/helpers/redis-cluster.ts) against one redis-server (the
// anchor), same run, same load generators, same room names.
//
// Method
// - Both Redis setups run side by side (AOF on every node, everysec), each with two chat replicas and one ingestion worker (so
//   the streams are consumed as in production; its CPU is logged, not counted), PARTITIONS=12
//   (≥ 4 × masters: every master serves partitions); on the cluster with REDIS_CLUSTER_NODES,
//   and, when the config has REDIS_ACK_REPLICAS, a third pair of chat replicas on the cluster
//   with it set (started after the fan-out: their probes are no part of its figures). Steps of the setups alternate, ROUNDS rounds in ABBA order (A B, B A, …), and
//   each setup's figures sum its steps: load from the rest of the machine falls on every setup.
// - Fan-out: ROOMS rooms, an equal share on every master (names asked of the cluster's slot
//   map, test/cluster/spread.ts; the single node reuses them), RECEIVERS members per room split
//   over the two replicas, SENDERS members in every room sending RATE msg/s in total, SECS per
//   step (bench/cluster-fanout.ts: two load generators, open loop, end-to-end latency). Reported:
//   delivery latency p50/p99, chat servers' CPU per delivery, and per Redis node its CPU and
//   egress over the window (bench/cluster-nodes.ts: to clients, replication, cluster bus). The
//   broadcast-vs-sharded columns: Redis egress per delivery over every node, and cluster-bus
//   publish messages per send — a classic PUBLISH goes to every other node (5 here), a sharded
//   SPUBLISH only to the replica of the room's master (1). A 2 s window with everybody joined
//   and nobody sending comes first: its rate of bus messages (the replicas' liveness probes) is
//   taken out of that count, its egress (cluster gossip) is given beside each master's.
// - Saturation: SAT_CLIENTS members, each in its own room (rooms hash over every master), over
//   the two replicas, each keeping SAT_WINDOW sends in flight (bench/cluster-senders.ts); per
//   step a second of warm-up, then SAT_SECS counted: acked sends/s, send -> ack p50/p99, Redis
//   CPU per send per node — single node, cluster, and cluster with REDIS_ACK_REPLICAS (what
//   WAIT costs an ack).
// Sizes: BENCH_CLUSTER_ROOMS (12), BENCH_CLUSTER_RECEIVERS (50 per room), BENCH_CLUSTER_SENDERS
// (4), BENCH_CLUSTER_RATE (200 msg/s), BENCH_CLUSTER_SECS (5 per step), BENCH_CLUSTER_SAT_CLIENTS
// (200), BENCH_CLUSTER_SAT_WINDOW (2), BENCH_CLUSTER_SAT_SECS (4 per step), BENCH_CLUSTER_ROUNDS
// (2), BENCH_CLUSTER_ACK_REPLICAS (1; 0 = no such step), BENCH_PAYLOAD (100 bytes of text).
import { partitionOf } from '../services/shared/keys.js';
import { envSchema } from '../services/shared/config.js';
import { JWT_SECRET, chatEnv } from '../test/chat/client.js';
import { startRedisCluster, type TestRedisCluster } from '../test/helpers/redis-cluster.js';
import { startRedis, type TestRedis } from '../test/helpers/redis-server.js';
import { startService, type RunningService } from '../test/helpers/service.js';
import { tempDir } from '../test/ingestion/fixtures.js';
import { PARTITIONS, spreadOverMasters } from '../test/cluster/spread.js';
import { redisPid } from './capacity/measure.js';
import { addFanout, addSat, fanoutRig, type FanoutRig } from './cluster-fanout.js';
import { commandsLine, egress, nodeWindow, sumUse, type RedisNode } from './cluster-nodes.js';
import { clusterRows, type ModeResult, type SatResult } from './cluster-rows.js';
import { SenderPool } from './cluster-senders.js';
import { cpuMs, envNumber as env, type Benchmark } from './lib.js';

const ROOMS = env('BENCH_CLUSTER_ROOMS', 12, 1);
const RECEIVERS = env('BENCH_CLUSTER_RECEIVERS', 50, 1);
const SENDERS = env('BENCH_CLUSTER_SENDERS', 4, 1);
const RATE = env('BENCH_CLUSTER_RATE', 200);
const SECS = env('BENCH_CLUSTER_SECS', 5);
const SAT_CLIENTS = env('BENCH_CLUSTER_SAT_CLIENTS', 200, 1);
const SAT_WINDOW = env('BENCH_CLUSTER_SAT_WINDOW', 2, 1);
const SAT_SECS = env('BENCH_CLUSTER_SAT_SECS', 4);
const ROUNDS = env('BENCH_CLUSTER_ROUNDS', 2, 1);
const ACK_REPLICAS = env('BENCH_CLUSTER_ACK_REPLICAS', 1, 0);
const PAYLOAD = env('BENCH_PAYLOAD', 100);
/** REDIS_ACK_REPLICAS (issue 18): measured only when the config knows it. */
const ACK_SUPPORTED = 'REDIS_ACK_REPLICAS' in envSchema.shape;
const WITH_ACK = ACK_SUPPORTED && ACK_REPLICAS > 0;
const SAT_TEXT = 'saturation message with a realistic length of about sixty characters';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Limits lifted as in the fan-out and capacity benchmarks: the figures are of the path, not of the budgets. */
const LIFTED = {
  LOG_LEVEL: 'warn', NODE_ENV: 'production', PARTITIONS: String(PARTITIONS),
  RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000',
  HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000', MAX_FRAMES_PER_SEC: '10000', INGEST_MAX_BACKLOG: '100000000', MAX_CONNECTIONS: '100000',
};

/** One setup under test: a Redis (single or cluster) and the chat replicas that use it. */
interface Target {
  label: string;
  mode: ModeResult;
  cluster: boolean;
  nodes: RedisNode[];
  chats: RunningService[];
  worker: RunningService;
  rig?: FanoutRig;
  pool?: SenderPool;
  /** Where its saturation steps add up (cluster + REDIS_ACK_REPLICAS: mode.satAck). */
  ack: boolean;
  failed?: string;
}

const wsUrl = (s: RunningService) => `ws://127.0.0.1:${s.port}/ws`;

function startChats(redisVars: Record<string, string>, tag: string, extra: Record<string, string> = {}): Promise<RunningService[]> {
  return Promise.all([0, 1].map((i) => startService('chat', chatEnv(redisVars.REDIS_URL!, `${tag}-${i}`, { ...LIFTED, ...redisVars, ...extra }), { waitReady: true })));
}

/** A Redis setup's processes; every one is stopped by `cleanup`. */
async function startStack(redisVars: Record<string, string>, tag: string, cleanup: (() => Promise<unknown>)[]) {
  const tmp = tempDir('aurora-cluster-bench-');
  cleanup.push(async () => tmp.cleanup());
  const worker = await startService('ingestion', { ...LIFTED, ...redisVars, JWT_SECRET, SQLITE_PATH: tmp.dbPath, INGEST_CONSUMER: `${tag}-w` });
  cleanup.push(() => worker.stop('SIGKILL'));
  const chats = await startChats(redisVars, tag);
  cleanup.push(() => Promise.all(chats.map((c) => c.stop('SIGKILL'))));
  return { chats, worker };
}

/** The cluster's nodes: masters labelled A, B, C… with the fan-out rooms each serves, then their replicas. */
async function clusterNodes(rc: TestRedisCluster, rooms: string[], masterOfPartition: number[]): Promise<RedisNode[]> {
  const masters = await rc.masters();
  const pidOf = (port: number) => rc.nodes.find((n) => n.port === port)!.pid;
  const name = (i: number) => String.fromCharCode(65 + i);
  const out: RedisNode[] = masters.map((m, i) => ({
    label: `master ${name(i)}`,
    role: 'master',
    port: m.port,
    pid: pidOf(m.port),
    client: rc.nodeClient(m.port),
    rooms: rooms.filter((room) => masterOfPartition[partitionOf(room, PARTITIONS)] === i).length,
  }));
  for (const [i, m] of masters.entries()) {
    for (const r of await rc.replicaOf(m)) out.push({ label: `replica of ${name(i)}`, role: 'replica', port: r.port, pid: pidOf(r.port), client: rc.nodeClient(r.port) });
  }
  return out;
}

/** Runs `fn` for a target still in the race; a failure takes it out (and is reported as a row). */
async function attempt(t: Target, what: string, log: (l: string) => void, fn: () => Promise<void>): Promise<void> {
  if (t.failed) return;
  try {
    await fn();
  } catch (err) {
    t.failed = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    log(`${t.label} failed, ${t.failed}`);
    // The services' own words (they run at LOG_LEVEL warn: only what went wrong).
    for (const s of [...t.chats, t.worker]) for (const line of s.logs.slice(-3)) log(`  ${s.name} :${s.port}: ${line.slice(0, 300)}`);
    if (t.ack) t.mode.failure ??= `REDIS_ACK_REPLICAS step: ${t.failed}`;
    else t.mode.failure ??= t.failed;
  }
}

/** ABBA: round r runs the targets in order, then reversed, and so on. */
const inRound = <T>(xs: T[], r: number) => (r % 2 === 0 ? xs : [...xs].reverse());

/** One saturation step of a target: start, a warm-up second, `secs` counted, stop. */
async function satStep(t: Target, secs = SAT_SECS): Promise<SatResult> {
  const pool = t.pool!;
  await pool.all({ cmd: 'start', window: SAT_WINDOW, text: SAT_TEXT });
  await sleep(1000);
  await pool.mark();
  const win = await nodeWindow(t.nodes, t.cluster);
  const pids = t.chats.map((c) => c.proc.pid!);
  const c0 = pids.map(cpuMs);
  const start = performance.now();
  await sleep(secs * 1000);
  const m = await pool.mark();
  const took = (performance.now() - start) / 1000;
  const chatCpuMs = pids.reduce((a, pid, i) => a + cpuMs(pid) - c0[i]!, 0);
  const nodes = await win.end();
  await pool.all({ cmd: 'stop' }); // answers once the in-flight sends are acked: the next target starts clean
  return { acks: m.acks, secs: took, errors: m.errors, hist: m.hist, chatCpuMs, nodes };
}

const ms = (us: number) => (us / 1000).toFixed(1);

export const clusterBenchmark: Benchmark = {
  name: 'cluster',
  description: `fan-out (${ROOMS} rooms x ${RECEIVERS} + ${SENDERS} senders @ ${RATE} msg/s) and acked sends at saturation (${SAT_CLIENTS} x ${SAT_WINDOW} in flight), 3+3 Redis Cluster vs one redis-server, ${ROUNDS} ABBA rounds`,
  async run(log) {
    const cluster: ModeResult = { mode: 'cluster' };
    const single: ModeResult = { mode: 'single' };
    const cleanup: (() => Promise<unknown>)[] = [];
    const targets: Target[] = [];
    try {
      // --- the setups ---
      let rooms = Array.from({ length: ROOMS }, (_, i) => `fan-${i}`);
      let clusterVars: Record<string, string> | undefined;
      try {
        const rc = await startRedisCluster();
        cleanup.push(() => rc.stop());
        const spread = await spreadOverMasters(rc);
        // Equal shares: round k takes one room per master.
        const perRound: string[][] = [];
        for (let k = 0; k < Math.ceil(ROOMS / spread.masters.length); k++) perRound.push(await spread.roomsFor((i) => `fan${k}-${i}`));
        rooms = perRound.flat().slice(0, ROOMS);
        cluster.nodes = await clusterNodes(rc, rooms, spread.masterOfPartition);
        log(`cluster: ${cluster.nodes.filter((n) => n.role === 'master').map((n) => `${n.label} :${n.port} (${n.rooms} rooms)`).join(', ')}, 3 replicas`);
        const vars = { REDIS_URL: `redis://${rc.seeds.split(',')[0]}`, REDIS_CLUSTER_NODES: rc.seeds };
        const stack = await startStack(vars, 'cluster', cleanup);
        targets.push({ label: 'cluster', mode: cluster, cluster: true, nodes: cluster.nodes, ...stack, ack: false });
        clusterVars = vars;
      } catch (err) {
        cluster.failure = `setup: ${err instanceof Error ? err.message : String(err)}`;
        log(`cluster setup failed: ${cluster.failure}`);
      }
      try {
        // AOF on, as on every cluster node (test/helpers/redis-cluster.ts): the same durability both sides.
        const rs: TestRedis = await startRedis({ appendonly: true });
        cleanup.push(() => rs.stop());
        const client = rs.client();
        single.nodes = [{ label: 'single', role: 'single', port: rs.port, pid: await redisPid(client), client, rooms: rooms.length }];
        const stack = await startStack({ REDIS_URL: rs.url }, 'single', cleanup);
        targets.push({ label: 'single', mode: single, cluster: false, nodes: single.nodes, ...stack, ack: false });
      } catch (err) {
        single.failure = `setup: ${err instanceof Error ? err.message : String(err)}`;
        log(`single setup failed: ${single.failure}`);
      }

      // --- fan-out: cluster and single, ABBA ---
      const fanTargets = targets.filter((t) => !t.ack);
      const sizes = { receivers: RECEIVERS, senders: SENDERS, payload: PAYLOAD };
      for (const t of fanTargets) {
        await attempt(t, 'fan-out setup', log, async () => {
          t.rig = await fanoutRig(t.chats, t.worker, t.nodes, t.cluster, rooms, sizes, (l) => log(`${t.label}: ${l}`));
          cleanup.push(() => t.rig!.close());
          await t.rig.step(Math.min(RATE, 50), Math.min(2, SECS)); // warm-up, not counted
        });
      }
      // What the setups do with nobody sending (liveness probes, presence, the worker's polling):
      // the cluster-bus publish count per send is given with this rate taken out.
      await Promise.all(
        fanTargets.map((t) =>
          attempt(t, 'idle window', log, async () => {
            const win = await nodeWindow(t.nodes, t.cluster);
            const start = performance.now();
            await sleep(2000);
            t.mode.idle = { nodes: await win.end(), secs: (performance.now() - start) / 1000 };
            const u = sumUse(t.mode.idle.nodes);
            const perSec = (x: number) => (x / t.mode.idle!.secs).toFixed(1);
            log(`${t.label} idle: Redis ${perSec(u.cpuMs / 10)} % of a core, ${perSec(egress(u) / 1024)} KiB/s egress, ${perSec(u.publishSent)} PUBLISH + ${perSec(u.publishShardSent)} SPUBLISH bus messages/s; ${commandsLine(u, t.mode.idle.secs)} per second`);
          }),
        ),
      );
      for (let r = 0; r < ROUNDS; r++) {
        for (const t of inRound(fanTargets, r)) {
          await attempt(t, 'fan-out', log, async () => {
            const f = await t.rig!.step(RATE, SECS);
            t.mode.fanout = addFanout(t.mode.fanout, f);
            log(
              `round ${r + 1} ${t.label} fan-out: ${f.deliveries}/${f.expected} deliveries in ${f.secs.toFixed(1)} s, p50 ${ms(f.hist.percentile(50))} p99 ${ms(f.hist.percentile(99))} ms (ack p50 ${ms(f.ackHist.percentile(50))} p99 ${ms(f.ackHist.percentile(99))}), ` +
                `chat servers ${((f.chatCpuMs * 1000) / Math.max(1, f.deliveries)).toFixed(1)} µs/delivery, ingestion worker ${(f.workerCpuMs / 10 / f.secs).toFixed(1)} % of a core (not counted)`,
            );
          });
        }
      }
      // Where Redis's time goes. On the cluster a replica re-runs each script's writes (MULTI/EXEC of
      // its effects) and gets XREADGROUP as XCLAIM: "all nodes" counts those too.
      for (const t of fanTargets) if (t.mode.fanout) log(`${t.label} fan-out, Redis commands per send, all nodes: ${commandsLine(sumUse(t.mode.fanout.nodes), t.mode.fanout.acked)}`);
      // The fan-out members go before the saturation starts: a quiet machine for it.
      await Promise.all(fanTargets.map((t) => t.rig?.close()));
      // Started only now: during the fan-out their probes would have been counted as the cluster's.
      const clusterTarget = targets.find((t) => t.label === 'cluster');
      if (WITH_ACK && clusterVars && clusterTarget && !clusterTarget.failed) {
        const vars = clusterVars;
        const ack: Target = { label: `cluster + REDIS_ACK_REPLICAS=${ACK_REPLICAS}`, mode: cluster, cluster: true, nodes: clusterTarget.nodes, chats: [], worker: clusterTarget.worker, ack: true };
        targets.push(ack);
        await attempt(ack, 'start', log, async () => {
          ack.chats = await startChats(vars, 'ack', { REDIS_ACK_REPLICAS: String(ACK_REPLICAS) });
          cleanup.push(() => Promise.all(ack.chats.map((c) => c.stop('SIGKILL'))));
        });
      } else log(!ACK_SUPPORTED ? 'REDIS_ACK_REPLICAS is not in services/shared/config.ts: no such step' : ACK_REPLICAS === 0 ? 'BENCH_CLUSTER_ACK_REPLICAS=0: no REDIS_ACK_REPLICAS step' : 'no REDIS_ACK_REPLICAS step: the cluster failed');

      // --- saturation: single, cluster, cluster + REDIS_ACK_REPLICAS, ABBA ---
      for (const t of targets) {
        await attempt(t, 'saturation setup', log, async () => {
          t.pool = SenderPool.spawn(2);
          cleanup.push(() => t.pool!.close());
          const tag = t.ack ? 'ack' : 'sat';
          const opened = await t.pool.open(Array.from({ length: SAT_CLIENTS }, (_, i) => ({ url: wsUrl(t.chats[i % t.chats.length]!), user: `${tag}${i}`, room: `${tag}-${i}` })));
          if (opened.failed > 0) throw new Error(`${opened.failed} of ${SAT_CLIENTS} senders failed to open (${opened.firstError})`);
          // Not counted: the send path's code warm (the REDIS_ACK_REPLICAS replicas have just started).
          await satStep(t, 1);
        });
      }
      for (let r = 0; r < ROUNDS; r++) {
        for (const t of inRound(targets, r)) {
          await attempt(t, 'saturation', log, async () => {
            const s = await satStep(t);
            if (t.ack) t.mode.satAck = addSat(t.mode.satAck, s);
            else t.mode.sat = addSat(t.mode.sat, s);
            const errors = Object.entries(s.errors).map(([k, v]) => `${k} ${v}`).join(', ');
            log(`round ${r + 1} ${t.label} saturation: ${Math.round(s.acks / s.secs)} acked/s, ack p50 ${ms(s.hist.percentile(50))} p99 ${ms(s.hist.percentile(99))} ms${errors ? `, errors ${errors}` : ''}`);
          });
        }
      }
      for (const t of targets) {
        const sat = t.ack ? t.mode.satAck : t.mode.sat;
        if (sat) log(`${t.label} saturation, Redis commands per acked send, all nodes: ${commandsLine(sumUse(sat.nodes), sat.acks)}`);
      }
    } finally {
      for (const f of cleanup.reverse()) await f().catch(() => {});
    }
    return clusterRows(single, cluster, { rate: RATE, ackReplicas: WITH_ACK ? ACK_REPLICAS : 0, satClients: SAT_CLIENTS, satWindow: SAT_WINDOW }, log);
  },
};
