// Chaos: one of two chat replicas is killed with -9 while eight clients (each knowing both
// replica URLs) keep sending into three rooms at a fixed rate. Proves, with real processes: the
// killed replica's clients reconnect to the survivor and resume with `since`, re-sending their
// unacked messages with the same cid; no client misses anything that was acked (every acked id
// of its rooms exactly once, in id order, no gap); every acked id is stored exactly once; and the
// survivor's own clients are not disturbed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import type { RunningService } from '../helpers/service.js';
import type { ResilientClient } from './resilient-client.js';
import { drainAndCompare, startChaosSystem, startLoad, type ChaosSystem } from './system.js';

const ROOMS = ['rk-alpha', 'rk-beta', 'rk-gamma'];
const CLIENTS = 8;
/** Acks each client collects before the kill; each client of the killed replica again after it. */
const ACKS_PER_PHASE = 15;
/** The least time the senders keep going before and after the kill (load, not correctness). */
const LOAD_BEFORE_MS = 1_500;
const LOAD_AFTER_MS = 3_000;
const LIMITS = { PARTITIONS: '2', RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000', MAX_FRAMES_PER_SEC: '10000' };

let sys: ChaosSystem;
let chatA: RunningService;
let chatB: RunningService;
let clients: ResilientClient[] = [];

beforeAll(async () => {
  sys = await startChaosSystem({ tmpPrefix: 'aurora-chaos-replica-', chat: LIMITS });
  ({ chatA, chatB } = sys);
}, 40_000);

afterAll(async () => {
  for (const c of clients) c.stop();
  await sys?.stop();
});

describe('chaos: a chat replica killed with -9 under load', () => {
  it("moves the dead replica's clients to the survivor, where they miss nothing acked; every acked id is stored exactly once", async () => {
    clients = await startLoad(sys, { count: CLIENTS, prefix: 'rk', rooms: ROOMS, acks: ACKS_PER_PHASE, minMs: LOAD_BEFORE_MS });
    const report = () => clients.map((c) => c.summary()).join('\n');

    // The fault: replica B dies without a chance to say goodbye (no 1012, no presence cleanup).
    const victims = clients.filter((c) => c.replica === 'chat-b');
    const survivors = clients.filter((c) => c.replica === 'chat-a');
    expect(victims.length, report()).toBe(CLIENTS / 2);
    expect(survivors.length, report()).toBe(CLIENTS / 2);
    const killAt = Date.now();
    await chatB.stop('SIGKILL');

    // After: the victims are acked by the survivor, while everyone keeps sending.
    const ackedOnSurvivorAfterKill = (c: ResilientClient) =>
      [...c.acks.values()].filter((a) => a.replica === 'chat-a' && a.at > killAt).length;
    await waitFor(
      () => Date.now() - killAt >= LOAD_AFTER_MS && victims.every((c) => ackedOnSurvivorAfterKill(c) >= ACKS_PER_PHASE),
      { timeoutMs: 20_000, intervalMs: 100, what: `victims acked by the survivor\n${report()}` },
    );

    const out = await drainAndCompare(sys, clients, ROOMS, report);

    // Every acked id stored exactly once.
    expect(out.storeProblems, report()).toEqual([]);

    // Nothing acked missed by any client: exactly the stored messages of its rooms, each once,
    // in id order, no gap.
    expect(out.deliveryProblems, `duplicates absorbed by id dedup: ${out.duplicates}\n${report()}`).toEqual([]);

    // The victims ended on the survivor, having reconnected; the survivor's clients never had to.
    for (const c of victims) {
      expect(c.replica, c.summary()).toBe('chat-a');
      expect(c.connections.map((x) => x.replica).slice(-1), c.summary()).toEqual(['chat-a']);
      expect(c.connections[0]?.replica, c.summary()).toBe('chat-b');
    }
    for (const c of survivors) expect(c.connections.map((x) => x.replica), c.summary()).toEqual(['chat-a']);
    expect(chatA.proc.exitCode ?? chatA.proc.signalCode).toBeNull();

    const resent = victims.reduce((n, c) => n + c.resends, 0);
    console.log(
      `[replica-kill] ${out.total} acked messages; ${resent} re-sends by the killed replica's clients; ` +
        `${out.duplicates} duplicate deliveries absorbed\n${report()}`,
    );
  }, 70_000);
});
