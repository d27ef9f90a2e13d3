// Chaos: the store unavailable for ~10 s under load. Real processes throughout: one redis-server,
// two chat replicas, two ingestion workers and the SQLite store file they share. The outage is
// real too: ANOTHER PROCESS opens the SQLite file and holds its write lock (BEGIN EXCLUSIVE), so
// every insert of the workers fails with SQLITE_BUSY after the busy timeout — what a backup
// tool, a migration or a stuck writer does to a production file.
//
// Clients send at a steady rate before, during and after the outage. What must hold (DESIGN.md,
// "Message path"): the send path never touches the store, so every send is acked throughout and
// delivered live; the ingest backlog grows while the store is down (nothing acked in Redis that
// is not stored); the workers stay up, go unready and ready again; and afterwards every acked
// message is in the store exactly once — none missing, none twice, in id order.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareIds, idTime } from '../../services/shared/ids.js';
import type { ChatMessage } from '../../services/shared/message.js';
import type { Store } from '../../services/shared/store/index.js';
import { TestClient, chatEnv, tokenFor, type Frame } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { INGEST_GROUP, exactlyOnceProblems, keysFor, openStore, startWorker, storedCount, tempDir } from '../ingestion/fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PARTITIONS = 2;
const keys = keysFor(PARTITIONS);
const ROOMS = ['outage-a', 'outage-b', 'outage-c', 'outage-d'];
/** Senders: two per replica, one room each, SEND_EVERY_MS apart (~80 messages/s in all). */
const SEND_EVERY_MS = 50;
const BEFORE_MS = 2_500;
const OUTAGE_MS = 10_000;
const AFTER_MS = 2_500;

let redis: TestRedis;
let tmp: ReturnType<typeof tempDir>;
let store: Store;
let chats: RunningService[] = [];
let workers: RunningService[] = [];
let locker: ChildProcess | undefined;
const clients: TestClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  tmp = tempDir('aurora-chaos-store-');
  // The send path only (no abuse limits in the way): a refused send would not be "acked".
  const limits = { PARTITIONS: String(PARTITIONS), RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000', MAX_FRAMES_PER_SEC: '10000' };
  chats = await Promise.all(
    ['chaos-store-a', 'chaos-store-b'].map((id) => startService('chat', chatEnv(redis.url, id, limits), { waitReady: true, timeoutMs: 40_000 })),
  );
  workers = await Promise.all(
    ['w1', 'w2'].map((consumer) =>
      startWorker({
        redisUrl: redis.url,
        dbPath: tmp.dbPath,
        partitions: PARTITIONS,
        consumer,
        // Claims must not be what drains the backlog: each worker keeps its batch in hand.
        extra: { INGEST_BATCH_SIZE: '200', INGEST_BATCH_MS: '50', INGEST_CLAIM_IDLE_MS: '3000', LOG_LEVEL: 'warn' },
      }),
    ),
  );
  // Opened after the workers created the schema; WAL readers are not blocked by the lock.
  store = await openStore(tmp.dbPath);
}, 90_000);

afterAll(async () => {
  locker?.kill('SIGKILL');
  for (const c of clients) c.ws.terminate();
  await Promise.all([...chats, ...workers].map((s) => s.stop('SIGKILL')));
  await store?.close();
  await redis?.stop();
  tmp?.cleanup();
});

/**
 * Another process that takes SQLite's write lock on the file and holds it until told (a line
 * on stdin) or killed. Resolves once the lock is held: no worker transaction is open then.
 */
async function lockStore(dbPath: string): Promise<{ proc: ChildProcess; release(): Promise<void> }> {
  const code = `
    const Database = require('better-sqlite3');
    const db = new Database(process.env.LOCK_DB, { timeout: 30000 });
    db.exec('BEGIN EXCLUSIVE');
    process.stdout.write('locked\\n');
    process.stdin.once('data', () => { db.exec('ROLLBACK'); db.close(); process.stdout.write('released\\n'); process.exit(0); });
    process.stdin.once('end', () => process.exit(0));`;
  const proc = spawn(process.execPath, ['-e', code], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOCK_DB: dbPath },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`locker exited with ${proc.exitCode}`);
      return out.includes('locked');
    },
    { timeoutMs: 30_000, what: 'the locker process to hold the SQLite write lock' },
  );
  return {
    proc,
    async release() {
      proc.stdin!.write('release\n');
      expect(await exited).toBe(0);
      expect(out).toContain('released');
    },
  };
}

/**
 * Entries of the ingest streams not yet acknowledged by the group: pending (delivered, in a
 * worker's hand) plus not yet delivered (after last-delivered-id). Counted from the streams
 * themselves, so it holds whatever XINFO's `lag` can compute.
 */
async function unacked(client: Redis): Promise<{ pending: number; undelivered: number; total: number }> {
  let pending = 0;
  let undelivered = 0;
  for (const stream of keys.allIngestStreams()) {
    const groups = (await client.call('XINFO', 'GROUPS', stream).catch(() => [])) as unknown[][];
    const group = groups.map((g) => fieldMap(g)).find((g) => g.name === INGEST_GROUP);
    if (!group) {
      undelivered += await client.xlen(stream);
      continue;
    }
    pending += Number(group.pending);
    const rest = await client.xrange(stream, `(${String(group['last-delivered-id'])}`, '+');
    undelivered += rest.length;
  }
  return { pending, undelivered, total: pending + undelivered };
}

function fieldMap(flat: unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
  return o;
}

async function readyStatus(s: RunningService): Promise<number> {
  return (await fetch(`${s.adminUrl}/readyz`, { signal: AbortSignal.timeout(20_000) })).status;
}

async function metric(s: RunningService, name: string): Promise<number> {
  const text = await (await fetch(`${s.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** One client sending to its room every SEND_EVERY_MS without waiting for acks, until stopped. */
class SteadySender {
  readonly sentAt = new Map<string, number>();
  readonly texts = new Map<string, string>();
  readonly acks = new Map<string, Frame>();
  readonly errors: Frame[] = [];
  private timer: NodeJS.Timeout | null = null;
  private n = 0;

  constructor(
    readonly client: TestClient,
    readonly room: string,
    readonly name: string,
  ) {
    client.ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Frame;
      if (f.type === 'ack') this.acks.set(f.cid as string, f);
      else if (f.type === 'error') this.errors.push(f);
    });
  }

  start(): void {
    this.timer = setInterval(() => {
      const cid = `${this.name}-${this.n++}`;
      const text = `${this.name} says ${this.n} ✓`;
      this.sentAt.set(cid, Date.now());
      this.texts.set(cid, text);
      this.client.send({ type: 'send', room: this.room, text, cid });
    }, SEND_EVERY_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Acks (received so far) of sends issued after `t`. */
  ackedSentAfter(t: number): number {
    let n = 0;
    for (const cid of this.acks.keys()) if (this.sentAt.get(cid)! > t) n++;
    return n;
  }

  /** The acked messages as the store must hold them. */
  messages(): ChatMessage[] {
    return [...this.acks.values()].map((a) => {
      const cid = a.cid as string;
      return { id: a.id as string, room: this.room, user: { id: this.name, name: this.name }, text: this.texts.get(cid)!, ts: idTime(a.id as string), cid };
    });
  }
}

describe('chaos: the store unavailable under load', { timeout: 180_000 }, () => {
  it('sends keep being acked and delivered for ~10 s without the store, the backlog grows and then drains, and every acked message is stored exactly once', async () => {
    const client = redis.client();
    const pids = workers.map((w) => w.proc.pid);
    for (const w of workers) expect(await readyStatus(w)).toBe(200);

    // Receivers, one per replica, in every room: live fan-out must not notice the outage.
    const receivers: TestClient[] = [];
    for (const [i, chat] of chats.entries()) {
      const r = await TestClient.connect(chat.baseUrl, tokenFor(`watcher-${i}`));
      clients.push(r);
      for (const room of ROOMS) await r.join(room);
      receivers.push(r);
    }
    const senders: SteadySender[] = [];
    for (const [i, room] of ROOMS.entries()) {
      const name = `sender-${i}`;
      const c = await TestClient.connect(chats[i % chats.length]!.baseUrl, tokenFor(name));
      clients.push(c);
      await c.join(room);
      senders.push(new SteadySender(c, room, name));
    }

    // --- before: the whole path works, messages reach the store
    for (const s of senders) s.start();
    await waitFor(async () => (await storedCount(store, ROOMS)) > 0, { timeoutMs: 30_000, what: 'first messages stored' });
    await new Promise((r) => setTimeout(r, BEFORE_MS)); // traffic phase length, not a correctness wait

    // --- outage: another process holds the write lock for OUTAGE_MS
    const lock = await lockStore(tmp.dbPath);
    locker = lock.proc;
    const lockedAt = Date.now();
    const storedAtLock = await storedCount(store, ROOMS);
    const backlogAtLock = await unacked(client);

    // Both workers fail their writes and turn unready, while staying up. (A worker's /readyz can
    // take seconds to answer meanwhile: better-sqlite3 waits out its busy timeout synchronously.)
    await Promise.all(
      workers.map((w) =>
        waitFor(async () => (await readyStatus(w)) === 503, {
          timeoutMs: OUTAGE_MS + 20_000,
          intervalMs: 200,
          what: `${w.name} ${w.port} unready while the store is locked`,
        }),
      ),
    );
    const remaining = OUTAGE_MS - (Date.now() - lockedAt);
    if (remaining > 0) await new Promise((r) => setTimeout(r, remaining)); // the outage's length

    // Measured while the lock is still held: what was acked to clients after the lock was taken
    // cannot have been stored, so it must all still be in Redis, unacknowledged by the group.
    const ackedDuringOutageBySender = senders.map((s) => s.ackedSentAfter(lockedAt));
    const ackedDuringOutage = ackedDuringOutageBySender.reduce((a, b) => a + b, 0);
    const backlogAtEnd = await unacked(client);
    const storedAtEnd = await storedCount(store, ROOMS);
    const failures = await Promise.all(workers.map((w) => metric(w, 'aurora_ingestion_store_failures_total')));
    const outageErrors = senders.flatMap((s) => s.errors);
    await lock.release();
    locker = undefined;
    const releasedAt = Date.now();

    // --- after: traffic goes on while the backlog drains
    await new Promise((r) => setTimeout(r, AFTER_MS)); // traffic phase length
    for (const s of senders) s.stop();
    const sentTotal = senders.reduce((n, s) => n + s.sentAt.size, 0);
    await waitFor(() => senders.every((s) => s.acks.size + s.errors.length === s.sentAt.size), {
      timeoutMs: 30_000,
      what: 'a reply to every send',
    });

    console.log(
      `[store-outage] sent ${sentTotal} (${ackedDuringOutage} acked during the ${releasedAt - lockedAt} ms outage); ` +
        `stored at lock ${storedAtLock}, at release ${storedAtEnd}; unacked backlog at lock ${JSON.stringify(backlogAtLock)}, ` +
        `at release ${JSON.stringify(backlogAtEnd)}; store failures per worker ${failures.join(', ')}`,
    );

    // Sends were acked throughout: no error frame of any kind, every send has its ack.
    expect(outageErrors).toEqual([]);
    expect(senders.flatMap((s) => s.errors)).toEqual([]);
    for (const s of senders) expect(s.acks.size).toBe(s.sentAt.size);
    // ...also while the store was down: acks came back during the outage, not only after it.
    for (const n of ackedDuringOutageBySender) expect(n).toBeGreaterThanOrEqual(10);

    // The store really was down and the backlog grew: nothing stored, everything acked meanwhile queued.
    expect(storedAtEnd).toBe(storedAtLock);
    expect(failures.every((f) => f > 0)).toBe(true);
    expect(backlogAtEnd.total).toBeGreaterThanOrEqual(ackedDuringOutage);
    expect(backlogAtEnd.total).toBeGreaterThan(backlogAtLock.total);

    // Live fan-out never depended on the store: both receivers got every acked message, in order.
    const acked = senders.flatMap((s) => s.messages());
    for (const r of receivers) {
      await waitFor(() => r.all('message').length >= acked.length, { timeoutMs: 30_000, what: 'every acked message live' });
      for (const s of senders) {
        const live = r.all('message', (f) => f.room === s.room).map((f) => f.id as string);
        const want = s.messages().map((m) => m.id).sort(compareIds);
        expect(live).toEqual(want);
      }
    }

    // Afterwards the backlog drains: every acked message stored exactly once, nothing left unacked.
    await waitFor(
      async () => (await storedCount(store, ROOMS)) >= acked.length && (await unacked(client)).total === 0,
      { timeoutMs: 60_000, intervalMs: 200, what: 'the backlog stored and acknowledged' },
    );
    expect(await exactlyOnceProblems(store, acked)).toBeNull();
    expect(await storedCount(store, ROOMS)).toBe(acked.length);
    // An unavailable store is never blamed on the data: nothing was dead-lettered.
    for (let p = 0; p < PARTITIONS; p++) expect(await client.xlen(keys.deadLetter(p))).toBe(0);

    // The workers rode it out: same processes, ready again, and a clean exit on SIGTERM.
    for (const w of workers) {
      expect(w.proc.exitCode).toBeNull();
      expect(w.proc.signalCode).toBeNull();
      await waitFor(async () => (await readyStatus(w)) === 200, { timeoutMs: 30_000, what: `${w.name} ready again` });
    }
    expect(workers.map((w) => w.proc.pid)).toEqual(pids);
    for (const chat of chats) expect(chat.proc.exitCode).toBeNull();
    const codes = await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    expect(codes).toEqual([0, 0]);
  });
});
