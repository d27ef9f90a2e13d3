// What caps the connections benchmark on this box: file descriptors (a socket is one), source
// ports, memory. A replica or holder process holds at most RLIMIT_NOFILE sockets; the hard limit
// can only be raised with CAP_SYS_RESOURCE (containers drop it), the soft one can be raised to
// the hard one by the process's own user, which the benchmark does for its children only
// (prlimit(1) on their pids: test/helpers/service.ts spawns node directly, without a shell).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const limitNumber = (s: string) => (s === 'unlimited' ? Infinity : Number(s));

/** The hard RLIMIT_NOFILE a shell started from here gets (what every child inherits). */
export function hardNofile(): number {
  return limitNumber(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim());
}

/** A running process's soft and hard "Max open files" (/proc/<pid>/limits). */
export function nofileOf(pid: number): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  if (!m) throw new Error(`no "Max open files" in /proc/${pid}/limits`);
  return { soft: limitNumber(m[1]!), hard: limitNumber(m[2]!) };
}

/**
 * Raises a child's soft RLIMIT_NOFILE to its hard limit when it is lower (the hard limit itself
 * stays: raising it needs CAP_SYS_RESOURCE). Returns the limits in force afterwards.
 */
export function raiseSoftNofile(pid: number): { soft: number; hard: number } {
  const before = nofileOf(pid);
  if (before.soft >= before.hard) return before;
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${before.hard}:${before.hard}`]);
  return nofileOf(pid);
}

/** File descriptors a process has open right now. */
export const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/**
 * Replicas needed to hold `total` sockets when each can hold `usablePerReplica`: at least 2
 * (the setup), more only when the fd limit demands it.
 */
export function replicasFor(total: number, usablePerReplica: number): number {
  return Math.max(2, Math.ceil(total / usablePerReplica));
}

/** Ports in the ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, read only). */
export function ephemeralPorts(): number {
  const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  return hi! - lo! + 1;
}

/**
 * `n` loopback source addresses, 127.0.0.2 upwards. 127.0.0.1 is left out: the services' own
 * Redis and admin connections take their ports from it, and a client socket bound before it
 * connects (as `localAddress` does) holds its port for every destination, so the holders'
 * sockets would compete with them.
 */
export function loopbackSources(n: number): string[] {
  if (n < 1 || n > 250) throw new Error(`BENCH_CONN_SOURCES must be 1..250, got ${n}`);
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`);
}

/** MemAvailable and MemTotal from /proc/meminfo, KiB. */
export function memInfo(): { availableKiB: number; totalKiB: number } {
  const text = readFileSync('/proc/meminfo', 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { availableKiB: field('MemAvailable'), totalKiB: field('MemTotal') };
}
