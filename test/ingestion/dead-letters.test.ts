// `cli dead-letters` (services/cli/dead-letters.ts) against a real redis-server, a real worker
// process and real SQLite: a message the store rejects (a SQLite trigger, as in rejected.test.ts)
// is dead-lettered, `list` names it with its reason, and after the trigger is dropped `redrive
// --all` puts it back on its ingest stream, where the worker stores it exactly once. Unparseable
// dead letters are refused and left in place; `export`, `list --json` and `purge` select by
// reason; bad usage is one line and a non-zero exit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import type { Store } from '../../services/shared/store/index.js';
import { ingestEntryFields, type ChatMessage } from '../../services/shared/message.js';
import {
  POISON_REASON,
  deadLettersTool,
  drafts,
  exactlyOnceProblems,
  keysFor,
  openStore,
  produce,
  rejectPoisonInStore,
  startWorker,
  storedMessages,
  tempDir,
  totalPending,
} from './fixtures.js';

const PARTITIONS = 2;
const keys = keysFor(PARTITIONS);
const ROOM = 'general';
const P = keys.partitionOf(ROOM);
const OTHER = 1 - P;
const POISON_TEXT = `poison ${'x'.repeat(100)}`;

let redis: TestRedis;
let store: Store;
let tmp: ReturnType<typeof tempDir>;
let worker: RunningService | undefined;
let fine: ChatMessage[] = [];
let poison: ChatMessage;
let liftRejection: () => void;

beforeAll(async () => {
  redis = await startRedis();
  tmp = tempDir();
  store = await openStore(tmp.dbPath); // creates the schema
  liftRejection = rejectPoisonInStore(tmp.dbPath);
  worker = await startWorker({
    redisUrl: redis.url,
    dbPath: tmp.dbPath,
    partitions: PARTITIONS,
    consumer: 'w1',
    extra: { INGEST_TRIM_INTERVAL_MS: '200', INGEST_CLAIM_IDLE_MS: '2000' },
  });
});

afterAll(async () => {
  await worker?.stop('SIGKILL');
  await store?.close();
  await redis?.stop();
  tmp?.cleanup();
});

/** Runs `cli dead-letters <args>` as its own process against the test Redis. */
const tool = (...args: string[]) => deadLettersTool({ redisUrl: redis.url, partitions: PARTITIONS }, ...args);

async function deadLetterIds(partition: number): Promise<string[]> {
  const rows = (await redis.client().xrange(keys.deadLetter(partition), '-', '+')) as [string, string[]][];
  return rows.map(([id]) => id);
}

describe('cli dead-letters', { timeout: 240_000 }, () => {
  it('list names a message the store rejected, with its reason, room, message id and the first 60 characters of its text', async () => {
    const client = redis.client();
    fine = await produce(client, keys, drafts(20, [ROOM], (i) => `fine ${i}`));
    [poison] = (await produce(client, keys, [{ room: ROOM, text: POISON_TEXT }])) as [ChatMessage];
    fine.push(...(await produce(client, keys, drafts(20, [ROOM], (i) => `fine after ${i}`))));
    await waitFor(async () => (await deadLetterIds(P)).length === 1, { timeoutMs: 60_000, what: 'the rejected message dead-lettered' });
    await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 30_000, what: 'everything acked' });
    const [dlId] = await deadLetterIds(P);

    const run = await tool('list', '--limit', '5');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toContain(`partition ${P} ${keys.deadLetter(P)}: 1 dead letter`);
    expect(lines).toContain(`partition ${OTHER} ${keys.deadLetter(OTHER)}: 0 dead letters`);
    const entry = lines.find((l) => l.includes(dlId!));
    expect(entry).toBeDefined();
    expect(entry).toContain(`reason="store rejected: ${POISON_REASON}"`);
    expect(entry).toContain(`room="${ROOM}"`);
    expect(entry).toContain(`id=${poison.id}`);
    expect(entry).toContain(`text=${JSON.stringify(POISON_TEXT.slice(0, 60))}`);
    expect(entry).not.toContain(POISON_TEXT.slice(0, 61));
    expect(lines.at(-1)).toBe(`total: 1 dead letter in ${PARTITIONS} partitions`);
    expect((await storedMessages(store, ROOM)).some((m) => m.id === poison.id)).toBe(false);
  });

  it('redrive --all after the fix puts the original entry back; the worker stores it exactly once and the dead-letter stream is empty', async () => {
    const client = redis.client();
    const [dlId] = await deadLetterIds(P);
    liftRejection();

    const run = await tool('redrive', '--all');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^redriven ${P}:${dlId} -> ${reEscape(keys.ingestStream(P))} \\d+-\\d+  room="${ROOM}"  id=${poison.id}$`, 'm'));
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('redriven 1, refused 0, not found 0');
    expect(await deadLetterIds(P)).toEqual([]);

    await waitFor(async () => (await storedMessages(store, ROOM)).some((m) => m.id === poison.id), {
      timeoutMs: 30_000,
      what: 're-driven message stored',
    });
    await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 30_000, what: 'everything acked' });
    expect(await exactlyOnceProblems(store, [...fine, poison])).toBeNull();
    const stored = (await storedMessages(store, ROOM)).find((m) => m.id === poison.id)!;
    expect(stored).toMatchObject({ text: POISON_TEXT, cid: poison.cid, user: poison.user, ts: poison.ts });
    expect(await deadLetterIds(P)).toEqual([]);
  });

  it('re-driving a copy of a message that was already stored (a crash duplicate) stores nothing new', async () => {
    const client = redis.client();
    const dup = await client.xadd(keys.deadLetter(P), '*', 'reason', 'copied twice by a crash', 'entryId', '1-1', 'stream', keys.ingestStream(P),
      'deliveries', '1', 'room', poison.room, 'id', poison.id, 'uid', poison.user.id, 'name', poison.user.name, 'text', poison.text, 'cid', poison.cid);

    const run = await tool('redrive', String(dup));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`redriven ${P}:${dup} -> `);
    await waitFor(async () => (await totalPending(client, keys)) === 0 && (await client.xlen(keys.ingestStream(P))) === 0, {
      timeoutMs: 30_000,
      what: 're-driven duplicate consumed and trimmed',
    });
    expect(await exactlyOnceProblems(store, [...fine, poison])).toBeNull();
    expect(await deadLetterIds(P)).toEqual([]);
  });

  it('refuses a dead letter whose original fields do not parse, leaves it in place and exits 1', async () => {
    const client = redis.client();
    const ingestBefore = await client.xlen(keys.ingestStream(OTHER));
    const bad = String(await client.xadd(keys.deadLetter(OTHER), '*', 'reason', 'invalid room', 'entryId', '1-1', 'stream', keys.ingestStream(OTHER),
      'deliveries', '1', 'room', 'Not A Room!', 'id', '1-1', 'uid', 'u1', 'name', 'a', 'text', 'x', 'cid', 'c'));

    for (const args of [['redrive', bad], ['redrive', `${OTHER}:${bad}`], ['redrive', '--all'], ['redrive', '--all', '--reason-contains', 'invalid']]) {
      const run = await tool(...args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stdout).toContain(`refused ${OTHER}:${bad}: original fields do not parse (invalid room); left in place`);
      expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('redriven 0, refused 1, not found 0');
    }
    expect(await deadLetterIds(OTHER)).toEqual([bad]);
    expect(await client.xlen(keys.ingestStream(OTHER))).toBe(ingestBefore);

    // A filter that selects nothing re-drives nothing and succeeds; an unknown id is reported.
    const none = await tool('redrive', '--all', '--reason-contains', 'no such reason');
    expect(none.code).toBe(0);
    expect(none.stdout.trim()).toBe('redriven 0, refused 0, not found 0');
    const missing = await tool('redrive', '1-999');
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('not found 1-999');
    expect(await deadLetterIds(OTHER)).toEqual([bad]);
  });

  it('bad usage exits 2 with one line on stderr and nothing on stdout', async () => {
    const usage = [[], ['frobnicate'], ['list', '--limit', '0'], ['list', '--limit'], ['list', '--jsn'], ['redrive'], ['redrive', 'abc'], ['redrive', '--all', '--reason-contains'],
      ['purge'], ['purge', '--reason-contains', 'x'], ['purge', '--yes', '--reason-contains'], ['purge', '--yes', 'now']];
    for (const args of usage) {
      const run = await tool(...args);
      expect(run.code, JSON.stringify(args)).toBe(2);
      expect(run.stdout).toBe('');
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines, JSON.stringify(args)).toHaveLength(1);
      expect(lines[0]).toMatch(/^dead-letters: .+; usage: dead-letters list/);
    }
    expect((await tool('purge')).stderr).toMatch(/^dead-letters: purge deletes dead letters for good and needs --yes/);
  });

  it('re-drives exactly the ingestEntryFields (room id uid name text cid), dropping the header and any stray fields', async () => {
    const client = redis.client();
    await worker?.stop('SIGKILL'); // nobody consumes the re-driven entry, so it can be read back
    worker = undefined;
    const ingest = keys.ingestStream(P);
    const before = (await client.xrevrange(ingest, '+', '-', 'COUNT', 1)) as [string, string[]][];
    const m: ChatMessage = { id: '1700000000000-5', room: ROOM, user: { id: 'u9', name: 'zoe' }, text: 'reordered', ts: 1700000000000, cid: 'c-9' };
    // Original fields in another order, plus a field the format does not know.
    const dl = String(await client.xadd(keys.deadLetter(P), '*', 'reason', 'store rejected: x', 'entryId', '1-1', 'stream', ingest,
      'cid', m.cid, 'text', m.text, 'extra', 'junk', 'name', m.user.name, 'uid', m.user.id, 'id', m.id, 'room', m.room));

    const run = await tool('redrive', `${P}:${dl}`);
    expect(run.code).toBe(0);
    const rows = (await client.xrange(ingest, before[0] ? `(${before[0][0]}` : '-', '+')) as [string, string[]][];
    expect(rows).toHaveLength(1);
    expect(rows[0]![1]).toEqual(ingestEntryFields(m));
    expect(run.stdout).toContain(`redriven ${P}:${dl} -> ${ingest} ${rows[0]![0]}`);
    expect(await deadLetterIds(P)).toEqual([]);
  });

  it('export writes every dead letter as a JSON line; with --delete it removes exactly what it wrote', async () => {
    const client = redis.client();
    const before = await deadLetterIds(OTHER); // the unparseable one left in place above
    const added: string[] = [];
    for (let i = 0; i < 250; i++) {
      added.push(String(await client.xadd(keys.deadLetter(OTHER), '*', 'reason', i % 2 ? 'id_conflict: x' : 'invalid room', 'entryId', `1-${i}`,
        'stream', keys.ingestStream(OTHER), 'room', ROOM, 'id', `${i + 1}-0`, 'uid', 'u1', 'name', 'a', 'text', `t${i}`, 'cid', `c${i}`)));
    }
    const dry = await tool('export', '--reason-contains', 'id_conflict');
    expect(dry.code).toBe(0);
    const dryLines = dry.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { dlId: string; reason: string; fields: Record<string, string> });
    expect(dryLines.map((l) => l.dlId)).toEqual(added.filter((_, i) => i % 2 === 1));
    expect(dryLines[0]).toMatchObject({ partition: OTHER, reason: 'id_conflict: x', fields: { room: ROOM, id: '2-0', text: 't1', cid: 'c1' } });
    expect(dry.stderr.trim()).toBe('exported 125 dead letters');
    expect(await deadLetterIds(OTHER)).toHaveLength(before.length + 250); // no --delete: nothing removed

    const run = await tool('export', '--delete');
    expect(run.code).toBe(0);
    const ids = run.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { dlId: string }).dlId);
    expect(ids).toEqual([...before, ...added]);
    expect(run.stderr.trim()).toBe(`exported ${before.length + 250} dead letters (deleted from Redis)`);
    expect(await deadLetterIds(OTHER)).toEqual([]);
  });
  it('list --json is one document: every partition with its count and its oldest entries, whole', async () => {
    const client = redis.client();
    const add = (p: number, reason: string, i: number) =>
      client.xadd(keys.deadLetter(p), '*', 'reason', reason, 'entryId', `9-${i}`, 'stream', keys.ingestStream(p), 'deliveries', '5',
        'room', ROOM, 'id', `${i + 1}-0`, 'uid', 'u1', 'name', 'a', 'text', `json ${i} ${'y'.repeat(80)}`, 'cid', `j${i}`).then(String);
    const inP = [await add(P, 'store rejected: a', 0), await add(P, 'invalid room', 1), await add(P, 'store rejected: b', 2)];
    const inOther = [await add(OTHER, 'store rejected: c', 3)];

    const run = await tool('list', '--json', '--limit', '2');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0]!);
    expect(doc).toMatchObject({ total: 4, limit: 2 });
    expect(doc.partitions.map((x: { partition: number }) => x.partition)).toEqual([0, 1]);
    const mine = doc.partitions[P];
    expect(mine).toMatchObject({ partition: P, key: keys.deadLetter(P), count: 3 });
    expect(mine.entries.map((e: { dlId: string }) => e.dlId)).toEqual(inP.slice(0, 2));
    expect(mine.entries[0]).toEqual({
      partition: P, dlId: inP[0], reason: 'store rejected: a', entryId: '9-0', stream: keys.ingestStream(P), deliveries: '5',
      fields: { room: ROOM, id: '1-0', uid: 'u1', name: 'a', text: `json 0 ${'y'.repeat(80)}`, cid: 'j0' }, // not cut to a preview
    });
    expect(doc.partitions[OTHER]).toMatchObject({ count: 1, entries: [{ dlId: inOther[0], reason: 'store rejected: c' }] });
    expect(await deadLetterIds(P)).toEqual(inP); // listing removes nothing
  });

  it('purge deletes exactly the selected dead letters and says how many; without --yes it deletes nothing', async () => {
    const inP = await deadLetterIds(P); // from the test above: reasons a, invalid room, b
    const before = [...inP, ...(await deadLetterIds(OTHER))];
    expect(before).toHaveLength(4);
    const refused = await tool('purge', '--reason-contains', 'store rejected');
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect([...(await deadLetterIds(P)), ...(await deadLetterIds(OTHER))]).toEqual(before);

    const some = await tool('purge', '--reason-contains', 'store rejected', '--yes');
    expect(some).toMatchObject({ code: 0, stdout: 'purged 3 dead letters\n', stderr: '' });
    expect(await deadLetterIds(P)).toEqual([inP[1]]);
    expect(await deadLetterIds(OTHER)).toEqual([]);

    expect(await tool('purge', '--yes')).toMatchObject({ code: 0, stdout: 'purged 1 dead letter\n' });
    expect(await deadLetterIds(P)).toEqual([]);
    expect(await tool('purge', '--yes')).toMatchObject({ code: 0, stdout: 'purged 0 dead letters\n' });
  });
});

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
