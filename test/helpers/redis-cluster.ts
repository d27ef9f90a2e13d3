// A throwaway real Redis Cluster for one test file (issue 18): `masters` × (1 + replicasPerMaster)
// `redis-server --cluster-enabled yes` processes on free ports, joined by `redis-cli --cluster
// create`, in their own temp dir, killed by PID at the end. It returns only once every node says
// cluster_state:ok with all 16384 slots served and every replica is in sync with its master (a
// replica that never synced refuses to take over, so a failover test would hang). Anything that
// does not get there in time throws with the tail of every node's log instead of hanging.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { freePort, waitFor } from './ports.js';

export interface ClusterNode {
  host: string;
  port: number;
  pid: number;
}

export interface TestRedisCluster {
  /** Every node started, masters and replicas (roles change on failover: ask masters()). */
  nodes: ClusterNode[];
  /** `127.0.0.1:P1,127.0.0.1:P2,…`: the seed list a service will take as REDIS_CLUSTER_NODES. */
  seeds: string;
  /** The nodes that are masters now, from a live node's CLUSTER NODES (failed ones left out). */
  masters(): Promise<ClusterNode[]>;
  /** The live replicas of `master` now. */
  replicaOf(master: ClusterNode | number): Promise<ClusterNode[]>;
  /** The master serving `slot` now. */
  masterOfSlot(slot: number): Promise<ClusterNode>;
  /** CLUSTER KEYSLOT, asked of a live node (no client-side copy of the CRC16). */
  slotOf(key: string): Promise<number>;
  /** A fresh ioredis Cluster client (its errors swallowed; disconnected by stop()). */
  client(opts?: ClusterOptions): Cluster;
  /** A plain client to one node (disconnected by stop()). */
  nodeClient(port: number): Redis;
  /** kill -9 of one node by its PID; resolves once it has exited. */
  killNode(port: number): Promise<void>;
  /** Bounded wait until every live node reports cluster_state:ok with all slots served. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /**
   * Bounded wait, after killNode(deadPort) of a master, until the failover is over: every live
   * node flags it failed, none routes a slot to it, and every live node is healthy again (right
   * after the kill they all still say ok: waitHealthy alone would return before the failover).
   */
  waitFailover(deadPort: number, timeoutMs?: number): Promise<void>;
  /**
   * Moves `slots` with their keys from the master on `fromPort` to the one on `toPort`, the way
   * `redis-cli --cluster reshard` does it (SETSLOT IMPORTING/MIGRATING, GETKEYSINSLOT + MIGRATE
   * `batch` keys at a time, then SETSLOT NODE on every master), one slot after another, live:
   * clients keep writing while it runs (ASK / TRYAGAIN redirections). reshard picks slots by
   * count only; a test that moves the slot of a given partition needs them by number.
   */
  migrateSlots(fromPort: number, toPort: number, slots: readonly number[], opts?: { batch?: number }): Promise<{ keys: number; ms: number }>;
  /** Kills every node by PID and removes the directory. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const SLOTS = 16384;

interface NodeProc extends ClusterNode {
  proc: ChildProcess;
  log: string;
}

/** `port` unique among `taken`: freePort may hand back a port it just gave out. */
async function uniquePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (!taken.has(p)) {
      taken.add(p);
      return p;
    }
  }
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** One line of CLUSTER NODES: `<id> <ip:port@bus> <flags> <master id|-> … <slots…>`. */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string | null;
}

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, addr, flags, master] = line.split(' ');
      return {
        id: id!,
        port: Number(addr!.split('@')[0]!.split(':').at(-1)),
        flags: flags!.split(','),
        masterId: master === '-' ? null : master!,
      };
    });
}

export async function startRedisCluster({ masters = 3, replicasPerMaster = 1 } = {}): Promise<TestRedisCluster> {
  if (masters < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
  const dir = mkdtempSync(join(tmpdir(), 'aurora-cluster-'));
  const taken = new Set<number>();
  const procs: NodeProc[] = [];
  const clients: (Redis | Cluster)[] = [];
  const count = masters * (1 + replicasPerMaster);

  // A crashed test run must not leave six redis-servers behind: kill them by PID on exit.
  const onExit = () => {
    for (const n of procs) if (n.proc.exitCode === null) n.proc.kill('SIGKILL');
  };
  process.once('exit', onExit);

  const logs = () => procs.map((n) => `--- node ${n.port} (pid ${n.pid}) ---\n${tail(n.log)}`).join('\n');
  const live = () => procs.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);

  const stop = async () => {
    process.removeListener('exit', onExit);
    for (const c of clients) c.disconnect();
    await Promise.all(
      procs.map(
        (n) =>
          new Promise<void>((resolve) => {
            if (n.proc.exitCode !== null || n.proc.signalCode !== null) return resolve();
            n.proc.once('exit', () => resolve());
            n.proc.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };

  // Short-lived probe connections: no retries, so a dead node answers at once with an error.
  const ask = async <T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> => {
    const r = new Redis(port, HOST, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
    r.on('error', () => {});
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  };
  const info = async (port: number, what: 'cluster' | 'replication'): Promise<Record<string, string>> => {
    const text = await ask(port, (r) => (what === 'cluster' ? r.cluster('INFO') : r.info('replication')) as Promise<string>);
    return Object.fromEntries(
      text
        .split(/\r?\n/)
        .filter((l) => l.includes(':'))
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
    );
  };
  const nodesView = async (): Promise<NodeLine[]> => {
    let lastErr: unknown;
    for (const n of live()) {
      try {
        return parseNodes((await ask(n.port, (r) => r.cluster('NODES'))) as string);
      } catch (err) {
        lastErr = err;
      }
    }
    throw new Error(`no live cluster node answers CLUSTER NODES: ${String(lastErr)}`);
  };
  const asNode = (port: number): ClusterNode => {
    const n = procs.find((p) => p.port === port);
    if (!n) throw new Error(`no node of this cluster on port ${port}`);
    return { host: n.host, port: n.port, pid: n.pid };
  };
  const healthy = async (): Promise<boolean> => {
    for (const n of live()) {
      const c = await info(n.port, 'cluster');
      if (c.cluster_state !== 'ok' || Number(c.cluster_slots_ok) !== SLOTS) return false;
    }
    return true;
  };
  const waitHealthy = async (timeoutMs = 15_000) => {
    try {
      await waitFor(healthy, { timeoutMs, intervalMs: 100, what: 'cluster_state:ok with all 16384 slots on every live node' });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${logs()}`);
    }
  };

  try {
    for (let i = 0; i < count; i++) {
      const port = await uniquePort(taken);
      // The bus port is chosen too: the default (port + 10000) may be taken or past 65535.
      const busPort = await uniquePort(taken);
      const log = join(dir, `${port}.log`);
      const proc = spawn(
        'redis-server',
        [
          '--port', String(port), '--bind', HOST, '--cluster-enabled', 'yes', '--cluster-port', String(busPort),
          '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000',
          '--appendonly', 'yes', '--appendfilename', `appendonly-${port}.aof`, '--appenddirname', `aof-${port}`,
          // a replica's first sync would wait the default 5 s for other replicas to join it
          '--repl-diskless-sync-delay', '0',
          '--save', '', '--dir', dir, '--dbfilename', `dump-${port}.rdb`, '--daemonize', 'no', '--logfile', log,
        ],
        { stdio: 'ignore' },
      );
      if (proc.pid === undefined) throw new Error('redis-server did not start (is it installed?)');
      procs.push({ host: HOST, port, pid: proc.pid, proc, log });
    }
    await waitFor(
      async () => {
        for (const n of procs) if ((await ask(n.port, (r) => r.ping())) !== 'PONG') return false;
        return true;
      },
      { timeoutMs: 10_000, what: `${count} cluster-enabled redis-servers answering PING` },
    );
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...procs.map((n) => `${HOST}:${n.port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (created.status !== 0) {
      throw new Error(`redis-cli --cluster create failed (status ${created.status}):\n${created.stdout}\n${created.stderr}`);
    }
    await waitHealthy();
    // Replicas must have synced: one that never did is too stale to be promoted.
    await waitFor(
      async () => {
        const view = await nodesView();
        const replicas = view.filter((l) => l.flags.includes('slave'));
        if (replicas.length !== masters * replicasPerMaster) return false;
        for (const r of replicas) if ((await info(r.port, 'replication')).master_link_status !== 'up') return false;
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'every replica in sync with its master' },
    );
  } catch (err) {
    const message = `${(err as Error).message}\n${logs()}`;
    await stop();
    throw new Error(message);
  }

  return {
    nodes: procs.map((n) => asNode(n.port)),
    seeds: procs.map((n) => `${n.host}:${n.port}`).join(','),
    async masters() {
      const view = await nodesView();
      return view.filter((l) => l.flags.includes('master') && !l.flags.includes('fail')).map((l) => asNode(l.port));
    },
    async replicaOf(master) {
      const port = typeof master === 'number' ? master : master.port;
      const view = await nodesView();
      const id = view.find((l) => l.port === port)?.id;
      if (!id) throw new Error(`node ${port} is not in the cluster`);
      return view.filter((l) => l.masterId === id && !l.flags.includes('fail')).map((l) => asNode(l.port));
    },
    async masterOfSlot(slot) {
      for (const n of live()) {
        try {
          const ranges = await ask(n.port, (r) => r.cluster('SLOTS'));
          const range = ranges.find(([from, to]) => from <= slot && slot <= to);
          if (range) return asNode(Number(range[2]![1]));
        } catch {
          /* try the next node */
        }
      }
      throw new Error(`no live node knows who serves slot ${slot}`);
    },
    async slotOf(key) {
      const n = live()[0];
      if (!n) throw new Error('no live cluster node');
      return Number(await ask(n.port, (r) => r.cluster('KEYSLOT', key)));
    },
    client(opts = {}) {
      const c = new Cluster(
        procs.map((n) => ({ host: n.host, port: n.port })),
        { ...opts, redisOptions: { maxRetriesPerRequest: 2, ...opts.redisOptions } },
      );
      // After a kill -9 ioredis emits hundreds of connection errors while the cluster fails over.
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    nodeClient(port) {
      const r = new Redis(port, HOST, { maxRetriesPerRequest: 2 });
      r.on('error', () => {});
      clients.push(r);
      return r;
    },
    async killNode(port) {
      const n = procs.find((p) => p.port === port);
      if (!n) throw new Error(`no node of this cluster on port ${port}`);
      if (n.proc.exitCode !== null || n.proc.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        n.proc.once('exit', () => resolve());
        process.kill(n.pid, 'SIGKILL');
      });
    },
    waitHealthy,
    async waitFailover(deadPort, timeoutMs = 20_000) {
      const over = async (): Promise<boolean> => {
        for (const n of live()) {
          const view = parseNodes((await ask(n.port, (r) => r.cluster('NODES'))) as string);
          if (!view.find((l) => l.port === deadPort)?.flags.includes('fail')) return false;
          const ranges = await ask(n.port, (r) => r.cluster('SLOTS'));
          if (ranges.some((range) => Number(range[2]![1]) === deadPort)) return false;
        }
        return healthy();
      };
      try {
        await waitFor(over, { timeoutMs, intervalMs: 100, what: `the failover of ${deadPort}: flagged fail, its slots served by another master, every live node ok` });
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${logs()}`);
      }
    },
    async migrateSlots(fromPort, toPort, slots, { batch = 10 } = {}) {
      const started = Date.now();
      const idOf = (port: number) => ask(port, (r) => r.cluster('MYID')) as Promise<string>;
      const [fromId, toId] = [await idOf(fromPort), await idOf(toPort)];
      let moved = 0;
      const from = new Redis(fromPort, HOST, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      from.on('error', () => {});
      try {
        for (const slot of slots) {
          // importing first: a client sent on by ASK must find the target ready for it
          await ask(toPort, (r) => r.cluster('SETSLOT', slot, 'IMPORTING', fromId));
          await from.cluster('SETSLOT', slot, 'MIGRATING', toId);
          for (;;) {
            const keys = (await from.cluster('GETKEYSINSLOT', slot, batch)) as string[];
            if (keys.length === 0) break;
            await from.call('MIGRATE', HOST, toPort, '', 0, 5000, 'KEYS', ...keys);
            moved += keys.length;
          }
          // the target first, then the source, then every other master (as redis-cli does)
          const others = (await nodesView())
            .filter((l) => l.flags.includes('master') && !l.flags.includes('fail') && l.port !== fromPort && l.port !== toPort)
            .map((l) => l.port);
          for (const port of [toPort, fromPort, ...others]) await ask(port, (r) => r.cluster('SETSLOT', slot, 'NODE', toId));
        }
      } finally {
        from.disconnect();
      }
      return { keys: moved, ms: Date.now() - started };
    },
    stop,
  };
}
