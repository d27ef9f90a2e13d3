// The send path profile (bench/sendpath-profile.ts) still runs end to end at a tiny size: a
// profiled replica, holder processes, redis-server's commandstats. No timing is asserted —
// what is asserted is that every section is there with positive readings, that the profile of
// the window was cut and kept, that the commandstats split holds on this redis-server, and that
// the summary's steps add up to the whole path.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const profileDir = mkdtempSync(join(tmpdir(), 'aurora-sendpath-profile-'));
afterAll(() => rmSync(profileDir, { recursive: true, force: true }));

function runProfile(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/sendpath-profile.ts'], {
      env: { ...process.env, BENCH_SENDPATH_SOCKETS: '8', BENCH_SENDPATH_SECONDS: '1', BENCH_PROFILE_DIR: profileDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => resolve({ code, out }));
  });
}

/** The number in the first column after `label` on the line that starts with it (commas allowed). */
function reading(out: string, label: string): number {
  const line = out.split('\n').find((l) => l.trimStart().startsWith(label));
  expect(line, `a line starting with "${label}"`).toBeDefined();
  return Number(line!.trimStart().slice(label.length).trim().split(/\s+/)[0]!.replace(/,/g, ''));
}

/** The lines of the section starting with `heading`, up to the next blank line. */
function section(out: string, heading: string): string[] {
  const lines = out.split('\n');
  const from = lines.findIndex((l) => l.startsWith(heading));
  expect(from, `section "${heading}"`).toBeGreaterThanOrEqual(0);
  const to = lines.findIndex((l, i) => i > from && l.trim() === '');
  return lines.slice(from, to < 0 ? undefined : to);
}

describe('send path profile (tiny run)', { timeout: 180_000 }, () => {
  it('prints throughput, the replica profile, redis commandstats and a summary that adds up to the path', async () => {
    const { code, out } = await runProfile();
    expect(code, out.slice(-3000)).toBe(0);

    // 1. positive readings for every process
    for (const label of ['acked sends/s', 'replica CPU', 'redis-server CPU', 'holders CPU (2 processes, the clients)']) {
      expect(reading(out, label), label).toBeGreaterThan(0);
    }
    expect(out).toMatch(/errors: none/);

    // 2. the profile was cut to the window, split by bucket and by our files, and kept
    const replica = section(out, '2. Replica');
    expect(Number(/\(([\d,]+) ms busy/.exec(replica[0]!)?.[1]?.replace(/,/g, ''))).toBeGreaterThan(0);
    expect(replica.some((l) => /^\s+services\/chat\/\S+\.ts\s+[\d.]+\s+[\d.]+$/.test(l)), 'a row for one of our files').toBe(true);
    expect(replica.some((l) => l.includes('top 15 functions by self time'))).toBe(true);
    const kept = readdirSync(profileDir).flatMap((d) => readdirSync(join(profileDir, d)));
    expect(kept.some((f) => f.endsWith('.cpuprofile'))).toBe(true);

    // 3. the commandstats split holds here, and every acked send is one script call
    const redis = section(out, '3. redis-server');
    expect(redis.join('\n')).toMatch(/counted in commandstats: yes; EVALSHA's usec includes theirs: yes/);
    const evalsha = redis.find((l) => /^\s+evalsha\s/.test(l))!.trim().split(/\s+/);
    expect(Number(evalsha[2])).toBeGreaterThan(0.5); // calls/send: the readings are not taken at the same instant
    expect(Number(evalsha[2])).toBeLessThan(2);
    for (const cmd of ['xadd', 'hmget', 'spublish']) expect(redis.some((l) => new RegExp(`^\\s+${cmd}\\s+[\\d,]+`).test(l)), cmd).toBe(true);
    expect(redis.some((l) => l.includes('Lua overhead (EVALSHA - inner)'))).toBe(true);

    // 4. the steps are the whole path (those under 0.1 % each are left out)
    const summary = section(out, '4. Summary');
    expect(Number(/= ([\d.,]+) µs per acked send/.exec(summary[0]!)?.[1]?.replace(/,/g, ''))).toBeGreaterThan(0);
    const pcts = summary.slice(2, -1).map((l) => Number(/\s([\d.]+)(\s+<-- over)?$/.exec(l)?.[1]));
    expect(pcts.length).toBeGreaterThan(5);
    expect(pcts.every((p) => p > 0)).toBe(true);
    const total = pcts.reduce((a, b) => a + b, 0);
    // each row is rounded to 0.1 %, so the printed rows may sum past 100 by up to 0.05 % per row
    const rounding = 0.05 * pcts.length + 1e-9;
    expect(total).toBeGreaterThan(95);
    expect(total).toBeLessThanOrEqual(100 + rounding);
    expect(summary.at(-1)).toMatch(/steps over 10 % of the path: /);
  });
});
