// Chaos for messages that change (issue 13): eight clients on two chat replicas send messages,
// thread replies, edits, deletes and reaction toggles into three rooms at a fixed rate while,
// one after the other, (1) the ingestion worker is killed -9 holding a batch that mixes messages
// and events, and a fresh worker claims it; (2) Redis (AOF on) is killed -9 and restarted;
// (3) a chat replica is killed -9. Proves, with real processes, that every acked event is applied
// exactly once and that the final state of every message — text, edited, deleted, reactions
// (who, not only how many), reply count — is the same in the store, in every live client, in a
// client that was offline through the replica kill and resumed with `since`, and in a client
// that joined afterwards without `since`; and that state is the one the acks say it must be.
import Database from 'better-sqlite3';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareIds } from '../../services/shared/ids.js';
import { ORIGIN, tokenFor } from '../chat/client.js';
import { INGEST_GROUP, keysFor } from '../ingestion/fixtures.js';
import { waitFor } from '../helpers/ports.js';
import { fieldOf } from '../helpers/stream-entries.js';
import { ackedModel, nextChange, receiptProblems, storedStateProblems, viewProblems, type RoomModel } from './message-state.js';
import { acksSince, missingCrossReplicaLive } from './delivery-checks.js';
import { ResilientClient } from './resilient-client.js';
import { startChaosSystem, startLoad, type ChaosSystem } from './system.js';

const ROOMS = ['ef-alpha', 'ef-beta', 'ef-gamma'];
const CLIENTS = 8;
const PARTITIONS = 2;
/** Acks (sends and changes) each client collects before the first fault and after each one. */
const ACKS_PER_PHASE = 12;
const LOAD_BEFORE_MS = 1_500;
const LOAD_AFTER_MS = 2_000;
const REDIS_DOWN_MS = 1_000;
// Delivery and storage are under test, not abuse limits. JOIN_HISTORY at its maximum: the client
// that joins without `since` sees as much of each room as a join can carry.
const LIMITS = { PARTITIONS: String(PARTITIONS), RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000', MAX_FRAMES_PER_SEC: '10000', JOIN_HISTORY: '500', LOG_LEVEL: 'info' };

let sys: ChaosSystem;
let redis: Redis;
let clients: ResilientClient[] = [];
const extra: ResilientClient[] = [];
const keys = keysFor(PARTITIONS);

beforeAll(async () => {
  // The first worker closes a batch 400 ms after its first entry: a kill -9 finds one in hand.
  sys = await startChaosSystem({ appendonly: true, tmpPrefix: 'aurora-chaos-events-', chat: LIMITS, worker: { INGEST_BATCH_MS: '400' } });
  redis = sys.redis.client();
}, 40_000);

afterAll(async () => {
  for (const c of [...clients, ...extra]) c.stop();
  await sys?.stop();
});

/**
 * Entries a consumer holds unacked, by kind: a message (no `ev`), or an event that changes one
 * (`ev` edit, delete, react), or a membership entry (`ev` member/room, appended by first joins):
 * a batch of messages and joins is not the mixed batch this test needs.
 */
async function pendingKinds(consumer: string): Promise<{ messages: number; events: number; membership: number }> {
  const out = { messages: 0, events: 0, membership: 0 };
  for (const stream of keys.allIngestStreams()) {
    const rows = (await redis.xpending(stream, INGEST_GROUP, '-', '+', 10_000, consumer)) as [string, ...unknown[]][];
    for (const [id] of rows) {
      const entry = ((await redis.xrange(stream, id, id)) as [string, string[]][])[0];
      if (!entry) continue;
      const ev = fieldOf(entry[1], 'ev');
      if (ev === undefined) out.messages++;
      else if (ev === 'edit' || ev === 'delete' || ev === 'react') out.events++;
      else out.membership++;
    }
  }
  return out;
}

/** The events the store applied in a room: one row per event id (store-sqlite-schema.ts `events`). */
function storedEventIds(room: string): string[] {
  const db = new Database(sys.dbPath);
  try {
    return (db.prepare('SELECT ms, seq FROM events WHERE room = ?').all(room) as { ms: number; seq: number }[]).map((r) => `${r.ms}-${r.seq}`);
  } finally {
    db.close();
  }
}

/** Top-level ids in id order (messagesAfter) and every thread's reply ids (repliesAfter), as stored. */
async function storedListing(room: string, want: RoomModel): Promise<{ top: string[]; replies: string[] }> {
  const top: string[] = [];
  for (let after = '0-0'; ; ) {
    const page = await sys.store.messagesAfter(room, after, 500);
    top.push(...page.map((m) => m.id));
    if (page.length < 500) break;
    after = page.at(-1)!.id;
  }
  const replies: string[] = [];
  const parents = new Set([...want.messages.values()].flatMap((m) => (m.replyTo ? [m.replyTo] : [])));
  for (const parent of parents) {
    for (let after: string | undefined; ; ) {
      const page = await sys.store.repliesAfter(room, parent, after, 500);
      replies.push(...page.map((m) => m.id));
      if (page.length < 500) break;
      after = page.at(-1)!.id;
    }
  }
  return { top, replies: replies.sort(compareIds) };
}

/** The replicas' last error lines: an outbox that never drains is usually explained there. */
const serverErrors = () => [sys.chatA, sys.chatB].flatMap((s) => s.logs.filter((l) => l.includes('"level":50')).slice(-5)).join('\n');

const acceptedCount = (c: ResilientClient, since = 0) =>
  [...c.acks.values(), ...c.changeAcks.values()].filter((a) => a.at > since).length;

describe('chaos: messages that change, through a worker kill, a Redis restart and a replica kill', () => {
  it('applies every acked event exactly once and ends with the same state in the store, every live client and clients that resumed or joined later', async () => {
    const { chatA, chatB } = sys;
    // Offline through the replica kill, back with `since` at the end (starts on the replica that dies).
    const sleeper = new ResilientClient({ user: 'ef-sleeper', token: tokenFor('ef-sleeper'), urls: [chatB.baseUrl, chatA.baseUrl], rooms: ROOMS, origin: ORIGIN });
    extra.push(sleeper);
    sleeper.start();
    await waitFor(() => sleeper.allLive, { timeoutMs: 15_000, what: 'the sleeper joined' });
    clients = await startLoad(sys, { count: CLIENTS, prefix: 'ef', rooms: ROOMS, acks: ACKS_PER_PHASE, minMs: LOAD_BEFORE_MS, traffic: nextChange });
    const report = () => [...clients, ...extra].map((c) => c.summary()).join('\n');
    await waitFor(() => clients.every((c) => [...c.changeAcks.values()].some((a) => a.id !== null)), {
      timeoutMs: 10_000,
      what: `an appended change per client\n${report()}`,
    });

    // (1) The worker dies holding a batch of messages AND events it has not acked. SIGSTOP first,
    // so what it holds can be read before the kill and cannot change under the check.
    let orphaned = { messages: 0, events: 0 };
    for (let attempt = 0; orphaned.messages === 0 || orphaned.events === 0; attempt++) {
      expect(attempt, 'the worker never held a mixed batch').toBeLessThan(50);
      await waitFor(async () => {
        const k = await pendingKinds('w1');
        return k.messages > 0 && k.events > 0;
      }, { timeoutMs: 10_000, intervalMs: 10, what: 'the worker holding a mixed batch' });
      sys.worker.proc.kill('SIGSTOP');
      orphaned = await pendingKinds('w1');
      if (orphaned.messages === 0 || orphaned.events === 0) sys.worker.proc.kill('SIGCONT');
    }
    const appliedBeforeKill = ROOMS.reduce((n, room) => n + storedEventIds(room).length, 0);
    await sys.worker.stop('SIGKILL');
    const workerKilledAt = Date.now();
    const rescuer = await sys.startWorker('w2', { INGEST_CLAIM_IDLE_MS: '500' });
    await waitFor(
      async () =>
        Date.now() - workerKilledAt >= LOAD_AFTER_MS &&
        clients.every((c) => acceptedCount(c, workerKilledAt) >= ACKS_PER_PHASE) &&
        Object.values(await pendingKinds('w1')).every((n) => n === 0),
      { timeoutMs: 20_000, intervalMs: 100, what: `the dead worker's batch claimed, acks going on\n${report()}` },
    );
    expect(rescuer.logs.some((l) => l.includes('claimed idle entries of another consumer'))).toBe(true);

    // (2) Redis killed -9 and started again on the same port (AOF keeps the logs, the message
    // index, the reaction hashes and the idempotency keys). Changes are refused `internal`
    // meanwhile and retried with the same cid.
    const downAt = Date.now();
    await sys.redis.kill();
    await waitFor(() => Date.now() - downAt >= REDIS_DOWN_MS, { timeoutMs: REDIS_DOWN_MS + 1_000 });
    await sys.redis.start();
    const upAt = Date.now();
    await waitFor(
      () =>
        Date.now() - upAt >= LOAD_AFTER_MS &&
        clients.every((c) => acksSince(c, upAt).length >= ACKS_PER_PHASE / 2 && acceptedCount(c, upAt) >= ACKS_PER_PHASE) &&
        missingCrossReplicaLive(clients, ['chat-a', 'chat-b'], upAt).length === 0,
      { timeoutMs: 20_000, intervalMs: 100, what: `acks after the Redis restart and live cross-replica delivery\n${report()}` },
    );

    // (3) The sleeper goes offline; replica B dies. Its clients move to A and resume with `since`.
    sleeper.stop();
    const victims = clients.filter((c) => c.replica === 'chat-b');
    expect(victims.length, report()).toBeGreaterThan(0);
    const killAt = Date.now();
    await chatB.stop('SIGKILL');
    await waitFor(
      () => Date.now() - killAt >= LOAD_AFTER_MS && victims.every((c) => [...c.acks.values(), ...c.changeAcks.values()].filter((a) => a.replica === 'chat-a' && a.at > killAt).length >= ACKS_PER_PHASE),
      { timeoutMs: 20_000, intervalMs: 100, what: `victims acked by the survivor\n${report()}` },
    );

    // Drain: every change answered, then delivery and storage settle (bounded: the problem lists
    // below say what is missing if they never do).
    for (const c of clients) c.stopSending();
    await waitFor(() => clients.every((c) => c.outboxSize === 0), { timeoutMs: 15_000, what: `outboxes drained\n${report()}\n${serverErrors()}` });
    const accepted = clients.flatMap((c) => c.accepted());
    const users = clients.map((c) => c.user);
    const want = new Map(ROOMS.map((room) => [room, ackedModel(room, accepted)]));
    const holdsAll = (m: RoomModel, w: RoomModel) => [...w.messages.keys()].every((id) => m.messages.has(id)) && [...w.eventIds].every((id) => m.eventIds.has(id));
    await waitFor(() => clients.every((c) => [...c.rooms.values()].every((r) => holdsAll(r.model, want.get(r.name)!))), {
      timeoutMs: 8_000,
      what: 'every acked message and event at every member',
    }).catch(() => {});
    await waitFor(
      async () => {
        for (const room of ROOMS) {
          const w = want.get(room)!;
          if (((await sys.store.getRoom(room))?.messageCount ?? 0) < w.messages.size || storedEventIds(room).length < w.eventIds.size) return false;
        }
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'every acked message and event in the store' },
    ).catch(() => {});

    // The sleeper resumes with `since` (its first replica is dead: it moves on); a newcomer joins
    // without `since`.
    const asLeft = new Map([...sleeper.rooms.values()].map((r) => [r.name, { resumes: r.resumes, events: r.model.eventIds.size }]));
    sleeper.start();
    const newcomer = new ResilientClient({ user: 'ef-newcomer', token: tokenFor('ef-newcomer'), urls: [chatA.baseUrl], rooms: ROOMS, origin: ORIGIN });
    extra.push(newcomer);
    newcomer.start();
    await waitFor(() => sleeper.allLive && newcomer.allLive, { timeoutMs: 15_000, what: `late clients joined\n${report()}` });

    // --- the views -------------------------------------------------------------------------
    const problems: string[] = [];
    let refusedOk = 0;
    for (const room of ROOMS) {
      const w = want.get(room)!;
      // (a) the store: each acked event applied once (one row per id, none unacked), each acked
      // message once, every message in the acked state (reactions by who, not only how many).
      const events = storedEventIds(room);
      const missing = [...w.eventIds].filter((id) => !events.includes(id));
      const unacked = events.filter((id) => !w.eventIds.has(id));
      if (missing.length) problems.push(`store/${room}: ${missing.length} of ${w.eventIds.size} acked events not applied, e.g. ${missing.slice(0, 5).join(' ')}`);
      if (unacked.length) problems.push(`store/${room}: ${unacked.length} events applied that nobody got an ack for, e.g. ${unacked.slice(0, 5).join(' ')}`);
      const count = (await sys.store.getRoom(room))?.messageCount;
      if (count !== w.messages.size) problems.push(`store/${room}: messageCount ${count}, ${w.messages.size} messages acked`);
      const listing = await storedListing(room, w);
      const ids = [...w.messages.values()];
      if (listing.top.join() !== ids.filter((m) => !m.replyTo).map((m) => m.id).join()) problems.push(`store/${room}: top-level listing differs from the acked messages`);
      if (listing.replies.join() !== ids.filter((m) => m.replyTo).map((m) => m.id).join()) problems.push(`store/${room}: thread listings differ from the acked replies`);
      problems.push(...(await storedStateProblems(`store/${room}`, sys.store, room, w, users)));

      // (b) every live client, (c) the client that resumed with `since`, (d) the one without.
      for (const c of [...clients, sleeper]) {
        const r = c.rooms.get(room);
        if (!r) continue;
        problems.push(...viewProblems(`${c.user}/${room}`, w, r.model), ...receiptProblems(`${c.user}/${room}`, r.model));
      }
      const fresh = newcomer.rooms.get(room)!.model;
      problems.push(...viewProblems(`${newcomer.user}/${room}`, w, fresh, { partial: true }), ...receiptProblems(`${newcomer.user}/${room}`, fresh, { orphansAllowed: true }));
      expect(fresh.eventIds.size, `${newcomer.user} saw events in ${room}`).toBeGreaterThan(0);

      // A change refused `not_found` is one whose target (or thread parent) was deleted.
      for (const c of clients) {
        for (const x of c.refused.filter((x) => x.body.room === room)) {
          const target = x.body.type === 'send' ? x.body.replyTo! : x.body.id;
          if (w.view(target)?.deleted) refusedOk++;
          else problems.push(`${c.user}: ${x.body.type} ${x.cid} refused not_found, but ${target} is ${JSON.stringify(w.view(target) ?? 'not acked')}`);
        }
      }
    }
    for (const c of [...clients, sleeper, newcomer]) {
      for (const g of c.gaps) problems.push(`${c.user}/${g.room}: gap on ${g.replica} (${g.why}, since ${g.since})`);
      for (const f of c.failed) problems.push(`${c.user}: ${f.cid} refused for good: ${f.code} ${f.message}`);
      for (const x of c.ackConflicts) problems.push(`${c.user}: cid acked with two ids: ${x}`);
    }
    expect(problems, report()).toEqual([]);

    // The run did what it claims: the dead worker held both kinds, the sleeper resumed every
    // room with `since` through the dead replica, and every kind of change was acked.
    expect(orphaned.messages).toBeGreaterThan(0);
    expect(orphaned.events).toBeGreaterThan(0);
    expect(appliedBeforeKill).toBeGreaterThan(0);
    for (const r of sleeper.rooms.values()) {
      expect(r.resumes, `${r.name} resumed\n${sleeper.summary()}`).toBe(asLeft.get(r.name)!.resumes + 1);
      expect(r.model.eventIds.size, `${r.name}: events replayed to the sleeper`).toBeGreaterThan(asLeft.get(r.name)!.events);
    }
    expect(sleeper.connections.at(-1)?.replica).toBe('chat-a');
    const kinds = new Map<string, number>();
    for (const a of accepted) {
      const k = a.body.type === 'send' ? (a.body.replyTo ? 'reply' : 'message') : a.body.type === 'react' ? `react-${a.body.on ? 'on' : 'off'}${a.id ? '' : '-unchanged'}` : a.body.type;
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    }
    for (const k of ['message', 'reply', 'edit', 'delete', 'react-on', 'react-off']) expect(kinds.get(k) ?? 0, `acked ${k}s`).toBeGreaterThan(0);

    const dupEvents = [...clients, sleeper].reduce((n, c) => n + [...c.rooms.values()].reduce((m, r) => m + r.model.duplicates, 0), 0);
    const logged = (what: string) => [chatA, chatB].reduce((n, s) => n + s.logs.filter((l) => l.includes(what)).length, 0);
    const seen = [...newcomer.rooms.values()].map((r) => `${r.name} ${r.model.messages.size}/${want.get(r.name)!.messages.size}`).join(', ');
    console.log(
      `[events-faults] acked: ${[...kinds].map(([k, n]) => `${k}=${n}`).join(' ')}; ` +
        `the killed worker held ${orphaned.messages} messages + ${orphaned.events} events (${appliedBeforeKill} events applied before); ` +
        `Redis down ${upAt - downAt} ms; ${victims.length} clients moved off the killed replica; ${refusedOk} changes refused not_found (target deleted); ` +
        `${dupEvents} duplicate event deliveries absorbed; subscriber recoveries: ${logged('missed during the subscriber outage')}, ` +
        `1012 resyncs: ${logged('closing room members with 1012')}; messages the newcomer's join carried: ${seen}\n${report()}`,
    );
  }, 90_000);
});
