// Operator tool for the ingestion dead-letter streams (keys.deadLetter(p), one per partition;
// entry format in services/ingestion/dead-letter.ts: reason, entryId, stream, deliveries?, then
// the original ingest fields).
//
//   npx tsx scripts/dead-letters.ts list [--limit N]
//   npx tsx scripts/dead-letters.ts redrive <dead-letter-id>... | --all [--reason-contains S]
//   npx tsx scripts/dead-letters.ts export [--delete] [--reason-contains S] > dead-letters.jsonl
//
// A dead letter is a message or a room event (edit, delete, react: field `ev`).
//
// `list` prints, per partition, the count and the oldest N entries. `redrive` XADDs each
// selected entry's ORIGINAL fields (exactly message.ts ingestEntryFields — room id uid name text
// cid [re] — or ingestEventFields for an event; reason/entryId/stream/deliveries and anything
// else stripped) back to its partition's
// ingest stream and XDELs it from the dead-letter stream, atomically per entry
// (dead-letters.lua). A dead letter whose original fields do not parse with parseIngestEntry is
// refused and left in place: a worker would only dead-letter it again. A dead-letter id may be
// written `<partition>:<id>` when the same id exists in two partitions.
//
// `export` writes every selected dead letter as one JSON line on stdout ({partition, dlId,
// reason, entryId, stream, deliveries?, fields}) — for messages no fix will make storable (an
// id_conflict needs a human) or to archive them. With --delete each page of entries is XDELed
// only after its lines were handed to stdout (the write callback), so an export that fails
// half-way deletes only what was written. Dead-letter streams are never trimmed
// (services/ingestion/dead-letter.ts): re-drive and export are the only ways out.
//
// Re-driving is safe to repeat: the store is idempotent by (room, id), so re-driving a message
// that was in fact stored (e.g. a dead letter copied twice by a crash) stores nothing new; the
// same holds for an event (by room and event id), and an event re-driven long after newer ones
// changes nothing they decided (the store applies events in id order, not arrival order).
//
// Reads REDIS_URL (or REDIS_CLUSTER_NODES) and PARTITIONS through loadConfig('ingestion'); never prints the URL.
// Exit codes: 0 done, 1 some selected dead letters were not re-driven (refused / not found /
// ambiguous) or Redis failed, 2 bad usage or configuration (one line on stderr).
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from '../services/shared/config.js';
import { keysFor, type Keys } from '../services/shared/keys.js';
import { isMembershipLogEntry } from '../services/shared/membership.js';
import { ingestFields, isRoomEvent, parseIngestEntry } from '../services/shared/message.js';
import { createRedis, fieldRecord } from '../services/shared/redis.js';

const USAGE =
  'usage: dead-letters list [--limit N] | redrive <dead-letter-id>... | redrive --all [--reason-contains S] | export [--delete] [--reason-contains S]';
const REDRIVE_LUA = readFileSync(new URL('./dead-letters.lua', import.meta.url), 'utf8');
const TEXT_PREVIEW_CHARS = 60;
const PAGE = 100;

class UsageError extends Error {}

type Command =
  | { kind: 'list'; limit: number }
  | { kind: 'redrive'; ids: { partition?: number; id: string }[] }
  | { kind: 'redrive-all'; reasonContains?: string }
  | { kind: 'export'; remove: boolean; reasonContains?: string };

function parseArgs(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  if (command === 'list') {
    let limit = 10;
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--limit' && i + 1 < rest.length && /^[1-9]\d{0,5}$/.test(rest[i + 1]!)) limit = Number(rest[++i]);
      else if (rest[i] === '--limit') throw new UsageError('--limit needs a whole number from 1 to 999999');
      else throw new UsageError(`unexpected argument ${JSON.stringify(rest[i])} for list`);
    }
    return { kind: 'list', limit };
  }
  if (command === 'export') {
    const cmd: Command = { kind: 'export', remove: false };
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--delete') cmd.remove = true;
      else if (rest[i] === '--reason-contains' && rest[i + 1]) cmd.reasonContains = rest[++i]!;
      else throw new UsageError(`unexpected argument ${JSON.stringify(rest[i])} for export`);
    }
    return cmd;
  }
  if (command === 'redrive') {
    if (rest[0] === '--all') {
      if (rest.length === 1) return { kind: 'redrive-all' };
      if (rest.length === 3 && rest[1] === '--reason-contains' && rest[2]) return { kind: 'redrive-all', reasonContains: rest[2] };
      throw new UsageError('redrive --all takes only --reason-contains <non-empty text>');
    }
    if (rest.length === 0) throw new UsageError('redrive needs dead-letter ids or --all');
    const ids = rest.map((arg) => {
      const m = /^(?:(\d+):)?(\d+-\d+)$/.exec(arg);
      if (!m) throw new UsageError(`not a dead-letter id: ${JSON.stringify(arg)} (want <ms>-<seq> or <partition>:<ms>-<seq>)`);
      return m[1] === undefined ? { id: m[2]! } : { partition: Number(m[1]), id: m[2]! };
    });
    return { kind: 'redrive', ids };
  }
  throw new UsageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`);
}

interface DeadLetter {
  dlId: string;
  partition: number;
  reason: string;
  entryId: string;
  stream: string;
  deliveries?: string;
  /** The ingest entry's own field/value list, header stripped. */
  original: string[];
}

/** Splits a dead-letter entry into its header (reason, entryId, stream, deliveries?) and the original fields. */
function parseDeadLetter(partition: number, dlId: string, flat: readonly string[]): DeadLetter {
  const header: Record<string, string> = {};
  let i = 0;
  for (const name of ['reason', 'entryId', 'stream', 'deliveries']) {
    if (flat[i] === name && i + 1 < flat.length) {
      header[name] = flat[i + 1]!;
      i += 2;
    }
  }
  return {
    dlId,
    partition,
    reason: header.reason ?? '',
    entryId: header.entryId ?? '',
    stream: header.stream ?? '',
    ...(header.deliveries !== undefined ? { deliveries: header.deliveries } : {}),
    original: flat.slice(i),
  };
}


const show = (s: string | undefined) => (s === undefined ? '-' : JSON.stringify(s));

type Out = (line: string) => void;

async function list(redis: Redis, keys: Keys, limit: number, out: Out): Promise<number> {
  let total = 0;
  for (let p = 0; p < keys.partitions; p++) {
    const key = keys.deadLetter(p);
    const count = await redis.xlen(key);
    total += count;
    const shown = count > limit ? ` (oldest ${limit} shown)` : '';
    out(`partition ${p} ${key}: ${count} dead letter${count === 1 ? '' : 's'}${shown}`);
    if (count === 0) continue;
    const rows = (await redis.xrange(key, '-', '+', 'COUNT', limit)) as [string, string[]][];
    for (const [dlId, flat] of rows) {
      const d = parseDeadLetter(p, dlId, flat);
      const original = fieldRecord(d.original);
      const text = original.text;
      // An event names its kind and target; a reaction shows its emoji in place of a text.
      const event = original.ev === undefined ? '' : `  event=${show(original.ev)}  target=${original.tg ?? '-'}`;
      const preview = original.emoji !== undefined && original.ev !== undefined ? `  emoji=${show(original.emoji)}` : '';
      out(
        `  ${dlId}  reason=${show(d.reason)}  entry=${d.entryId || '-'}  room=${show(original.room)}` +
          `  id=${original.id ?? '-'}${event}  text=${show(text === undefined ? undefined : text.slice(0, TEXT_PREVIEW_CHARS))}${preview}` +
          (d.deliveries !== undefined ? `  deliveries=${d.deliveries}` : ''),
      );
    }
  }
  out(`total: ${total} dead letter${total === 1 ? '' : 's'} in ${keys.partitions} partition${keys.partitions === 1 ? '' : 's'}`);
  return 0;
}

interface Tally {
  redriven: number;
  refused: number;
  missing: number;
}

/** Re-drives one dead letter (or refuses it); updates the tally and prints one line. */
async function redriveOne(redis: Redis, keys: Keys, d: DeadLetter, tally: Tally, out: Out): Promise<void> {
  const name = `${d.partition}:${d.dlId}`;
  const parsed = parseIngestEntry(d.original);
  if (typeof parsed === 'string') {
    tally.refused++;
    out(`refused ${name}: original fields do not parse (${parsed}); left in place (reason was ${show(d.reason)})`);
    return;
  }
  const ingest = keys.ingestStream(d.partition);
  const fields = ingestFields(parsed);
  const newId = (await redis.eval(REDRIVE_LUA, 2, keys.deadLetter(d.partition), ingest, d.dlId, ...fields)) as string | null;
  if (newId === null) {
    tally.missing++;
    out(`not found ${name}: gone before it could be re-driven`);
    return;
  }
  tally.redriven++;
  const what = isRoomEvent(parsed)
    ? `  ${parsed.kind} of ${parsed.target}`
    : isMembershipLogEntry(parsed)
      ? `  ${parsed.kind} ${parsed.action}`
      : '';
  out(`redriven ${name} -> ${ingest} ${newId}  room=${show(parsed.room)}  id=${parsed.id}${what}`);
}

async function redriveIds(redis: Redis, keys: Keys, ids: { partition?: number; id: string }[], out: Out): Promise<Tally> {
  const tally: Tally = { redriven: 0, refused: 0, missing: 0 };
  for (const { partition, id } of ids) {
    if (partition !== undefined && partition >= keys.partitions) {
      tally.missing++;
      out(`not found ${partition}:${id}: there are only ${keys.partitions} partitions (PARTITIONS)`);
      continue;
    }
    const candidates = partition !== undefined ? [partition] : Array.from({ length: keys.partitions }, (_, p) => p);
    const found: DeadLetter[] = [];
    for (const p of candidates) {
      const rows = (await redis.xrange(keys.deadLetter(p), id, id)) as [string, string[]][];
      for (const [dlId, flat] of rows) found.push(parseDeadLetter(p, dlId, flat));
    }
    if (found.length === 0) {
      tally.missing++;
      out(`not found ${partition !== undefined ? `${partition}:` : ''}${id}`);
    } else if (found.length > 1) {
      tally.missing++;
      out(`ambiguous ${id}: in partitions ${found.map((d) => d.partition).join(', ')}; name one as <partition>:${id}`);
    } else {
      await redriveOne(redis, keys, found[0]!, tally, out);
    }
  }
  return tally;
}

async function redriveAll(redis: Redis, keys: Keys, reasonContains: string | undefined, out: Out): Promise<Tally> {
  const tally: Tally = { redriven: 0, refused: 0, missing: 0 };
  for (let p = 0; p < keys.partitions; p++) {
    const key = keys.deadLetter(p);
    // Stop at the newest entry as of now: a re-driven message the store still rejects comes
    // back as a new dead letter, and must not be re-driven again in the same run.
    const last = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
    if (last.length === 0) continue;
    const end = last[0]![0];
    let start = '-';
    for (;;) {
      const rows = (await redis.xrange(key, start, end, 'COUNT', PAGE)) as [string, string[]][];
      for (const [dlId, flat] of rows) {
        const d = parseDeadLetter(p, dlId, flat);
        if (reasonContains !== undefined && !d.reason.includes(reasonContains)) continue;
        await redriveOne(redis, keys, d, tally, out);
      }
      if (rows.length < PAGE) break;
      start = `(${rows[rows.length - 1]![0]}`;
    }
  }
  return tally;
}

/** Hands `text` to stdout and resolves once it was written (or rejects: nothing is deleted then). */
function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
}

async function exportAll(redis: Redis, keys: Keys, remove: boolean, reasonContains: string | undefined): Promise<number> {
  let exported = 0;
  for (let p = 0; p < keys.partitions; p++) {
    const key = keys.deadLetter(p);
    let start = '-';
    for (;;) {
      const rows = (await redis.xrange(key, start, '+', 'COUNT', PAGE)) as [string, string[]][];
      const page = rows
        .map(([dlId, flat]) => parseDeadLetter(p, dlId, flat))
        .filter((d) => reasonContains === undefined || d.reason.includes(reasonContains));
      if (page.length > 0) {
        await writeOut(
          page
            .map((d) => JSON.stringify({ partition: d.partition, dlId: d.dlId, reason: d.reason, entryId: d.entryId, stream: d.stream, ...(d.deliveries !== undefined ? { deliveries: d.deliveries } : {}), fields: fieldRecord(d.original) }))
            .join('\n') + '\n',
        );
        if (remove) await redis.xdel(key, ...page.map((d) => d.dlId));
        exported += page.length;
      }
      if (rows.length < PAGE) break;
      start = `(${rows[rows.length - 1]![0]}`;
    }
  }
  process.stderr.write(`exported ${exported} dead letter${exported === 1 ? '' : 's'}${remove ? ' (deleted from Redis)' : ''}\n`);
  return 0;
}

async function main(): Promise<number> {
  let command: Command;
  let keys: Keys;
  let config: Config;
  try {
    command = parseArgs(process.argv.slice(2));
    config = loadConfig('ingestion');
    keys = keysFor(config.PARTITIONS);
  } catch (err) {
    if (err instanceof UsageError) process.stderr.write(`dead-letters: ${err.message}; ${USAGE}\n`);
    else if (err instanceof ConfigError) process.stderr.write(`dead-letters: configuration error: ${err.message}\n`);
    else throw err;
    return 2;
  }

  const out: Out = (line) => process.stdout.write(`${line}\n`);
  // Silent: stdout is the export's JSON lines; the one connection error is reported below.
  const redis = createRedis(config, pino({ level: 'silent' }), {
    role: 'dead-letters',
    extra: { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: (times) => (times > 3 ? null : 200 * times) },
  });
  let lastError = '';
  redis.on('error', (err: Error) => (lastError = err.message)); // reported once below
  try {
    await redis.connect().catch((err: unknown) => {
      throw new Error(`cannot connect (${config.REDIS_CLUSTER_NODES.length > 0 ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL'}): ${lastError || (err instanceof Error ? err.message : String(err))}`);
    });
    if (command.kind === 'list') return await list(redis, keys, command.limit, out);
    if (command.kind === 'export') return await exportAll(redis, keys, command.remove, command.reasonContains);
    const tally =
      command.kind === 'redrive'
        ? await redriveIds(redis, keys, command.ids, out)
        : await redriveAll(redis, keys, command.reasonContains, out);
    out(`redriven ${tally.redriven}, refused ${tally.refused}, not found ${tally.missing}`);
    return tally.refused + tally.missing > 0 ? 1 : 0;
  } catch (err) {
    // ioredis messages name host:port at most, never the password in REDIS_URL.
    process.stderr.write(`dead-letters: redis error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await Promise.race([redis.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
    redis.disconnect();
  }
}

process.exitCode = await main();
