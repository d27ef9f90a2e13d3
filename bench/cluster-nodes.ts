// What the cluster benchmark reads of each Redis node over a measured window: CPU time (INFO cpu
// used_cpu_sys + used_cpu_user, every thread: finer than /proc's 10 ms ticks, which a node
// using a few % of a core over 10 s would round away), and egress split three ways —
// - clients: INFO stats total_net_output_bytes (replies, pub/sub pushes, stream reads);
// - replication: total_net_repl_output_bytes (a master's stream to its replica);
// - cluster bus: every byte the process put on TCP (`ss -tinp`, bytes_sent of each of its
//   sockets) minus the two above. Redis 7.0 counts no bus traffic in INFO, and the bus is where
//   a classic PUBLISH is broadcast: one bus message (~2 KB header + channel + payload) to every
//   other node. CLUSTER INFO's cluster_stats_messages_publish_sent / publishshard_sent count
//   those messages (a sharded SPUBLISH goes only to the replicas of the room's master).
// A socket that closes inside the window takes its bytes_sent with it: the benchmark keeps its
// connections open across a window, so only a reconnect would understate the bus part.
import { execFileSync } from 'node:child_process';
import type { Redis } from 'ioredis';

export interface RedisNode {
  /** e.g. "single", "master A", "replica of A". */
  label: string;
  role: 'single' | 'master' | 'replica';
  port: number;
  pid: number;
  client: Redis;
  /** Cluster mode: rooms of the fan-out step whose partition this master serves. */
  rooms?: number;
}

/** Calls and µs by command (INFO commandstats: a script's own commands are counted inside its EVALSHA too). */
export type Commands = Record<string, { calls: number; usec: number }>;

export interface NodeUse {
  cpuMs: number;
  clientOut: number;
  replOut: number;
  /** TCP bytes the process sent minus clientOut and replOut (never below 0). */
  busOut: number;
  publishSent: number;
  publishShardSent: number;
  commands: Commands;
}

interface Sample {
  cpuMs: number;
  clientOut: number;
  replOut: number;
  tcpOut: number;
  publishSent: number;
  publishShardSent: number;
  commands: Commands;
}

const fields = (text: string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
};

/** Bytes sent so far by every established TCP socket of each pid (ss -tinpH: a socket line, then its tcp_info line). */
export function tcpBytesSentByPid(): Map<number, number> {
  const text = execFileSync('ss', ['-tinpH'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = new Map<number, number>();
  let pids: number[] = [];
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) {
      pids = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
      continue;
    }
    const m = /\bbytes_sent:(\d+)/.exec(line) ?? /\bbytes_acked:(\d+)/.exec(line);
    // A socket shared by a forked child (an AOF rewrite) is counted once, for the first pid.
    if (m && pids[0] !== undefined) out.set(pids[0], (out.get(pids[0]) ?? 0) + Number(m[1]));
    pids = [];
  }
  return out;
}

async function sample(nodes: readonly RedisNode[], cluster: boolean): Promise<Sample[]> {
  const tcp = tcpBytesSentByPid();
  return Promise.all(
    nodes.map(async (n) => {
      const stats = fields(await n.client.info('stats'));
      const cpu = fields(await n.client.info('cpu'));
      const commands: Commands = {};
      for (const m of (await n.client.info('commandstats')).matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+)/gm)) commands[m[1]!] = { calls: Number(m[2]), usec: Number(m[3]) };
      const bus = cluster ? fields((await n.client.cluster('INFO')) as string) : {};
      return {
        cpuMs: ((cpu.used_cpu_sys ?? NaN) + (cpu.used_cpu_user ?? NaN)) * 1000,
        clientOut: stats.total_net_output_bytes ?? 0,
        replOut: stats.total_net_repl_output_bytes ?? 0,
        tcpOut: tcp.get(n.pid) ?? 0,
        publishSent: bus.cluster_stats_messages_publish_sent ?? 0,
        publishShardSent: bus.cluster_stats_messages_publishshard_sent ?? 0,
        commands,
      };
    }),
  );
}

/** Starts a window over `nodes`; end() gives each node's use over it, in `nodes` order. */
export async function nodeWindow(nodes: readonly RedisNode[], cluster: boolean): Promise<{ end(): Promise<NodeUse[]> }> {
  const s0 = await sample(nodes, cluster);
  return {
    async end() {
      const s1 = await sample(nodes, cluster);
      return s1.map((b, i) => {
        const a = s0[i]!;
        const clientOut = b.clientOut - a.clientOut;
        const replOut = b.replOut - a.replOut;
        return {
          cpuMs: b.cpuMs - a.cpuMs,
          clientOut,
          replOut,
          busOut: Math.max(0, b.tcpOut - a.tcpOut - clientOut - replOut),
          publishSent: b.publishSent - a.publishSent,
          publishShardSent: b.publishShardSent - a.publishShardSent,
          commands: addCommands(b.commands, a.commands, -1),
        };
      });
    },
  };
}

/** a + sign × b, command by command (commands that did not run in a window are left out). */
function addCommands(a: Commands, b: Commands, sign = 1): Commands {
  const out: Commands = {};
  for (const [k, v] of Object.entries(a)) {
    const w = b[k] ?? { calls: 0, usec: 0 };
    const calls = v.calls + sign * w.calls;
    if (calls > 0) out[k] = { calls, usec: v.usec + sign * w.usec };
  }
  if (sign > 0) for (const [k, w] of Object.entries(b)) if (!(k in a)) out[k] = { ...w };
  return out;
}

export const addUse = (s: NodeUse, u: NodeUse): NodeUse => ({
  cpuMs: s.cpuMs + u.cpuMs,
  clientOut: s.clientOut + u.clientOut,
  replOut: s.replOut + u.replOut,
  busOut: s.busOut + u.busOut,
  publishSent: s.publishSent + u.publishSent,
  publishShardSent: s.publishShardSent + u.publishShardSent,
  commands: addCommands(s.commands, u.commands),
});

export const sumUse = (uses: readonly NodeUse[]): NodeUse =>
  uses.reduce(addUse, { cpuMs: 0, clientOut: 0, replOut: 0, busOut: 0, publishSent: 0, publishShardSent: 0, commands: {} });

/** "evalsha 1.00 calls 41.2 µs, xreadgroup 0.31 calls 3.1 µs, …": the top commands by time, per `per` (e.g. acked sends). */
export function commandsLine(u: NodeUse, per: number, top = 8): string {
  return Object.entries(u.commands)
    .sort(([, a], [, b]) => b.usec - a.usec)
    .slice(0, top)
    .map(([k, v]) => `${k} ${(v.calls / Math.max(1, per)).toFixed(2)} calls ${(v.usec / Math.max(1, per)).toFixed(1)} µs`)
    .join(', ');
}

export const egress = (u: NodeUse) => u.clientOut + u.replOut + u.busOut;
