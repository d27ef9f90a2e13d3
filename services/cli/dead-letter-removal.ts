// The ways out of a dead-letter stream (dead-letters.ts has the whole story): re-drive (back to
// the ingest stream, atomically per entry: lua/redrive-dead-letter.lua), export (to stdout,
// optionally deleting what was written) and purge (delete).
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import { isMembershipLogEntry } from '../shared/membership.js';
import { ingestFields, isRoomEvent, parseIngestEntry } from '../shared/message.js';
import { deadLetterPages, newestDeadLetter, parseDeadLetter, show, toJson, type DeadLetter } from './dead-letter-entries.js';

const REDRIVE_LUA = readFileSync(new URL('./lua/redrive-dead-letter.lua', import.meta.url), 'utf8');

type Out = (line: string) => void;

export interface Tally {
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

export async function redriveIds(redis: Redis, keys: Keys, ids: { partition?: number; id: string }[], out: Out): Promise<Tally> {
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

const selected = (reasonContains: string | undefined) => (d: DeadLetter) => reasonContains === undefined || d.reason.includes(reasonContains);

export async function redriveAll(redis: Redis, keys: Keys, reasonContains: string | undefined, out: Out): Promise<Tally> {
  const tally: Tally = { redriven: 0, refused: 0, missing: 0 };
  for (let p = 0; p < keys.partitions; p++) {
    // Stop at the newest entry as of now: a re-driven message the store still rejects comes
    // back as a new dead letter, and must not be re-driven again in the same run.
    const end = await newestDeadLetter(redis, keys, p);
    if (end === null) continue;
    for await (const page of deadLetterPages(redis, keys, p, end)) {
      for (const d of page.filter(selected(reasonContains))) await redriveOne(redis, keys, d, tally, out);
    }
  }
  return tally;
}

/** Hands `text` to stdout and resolves once it was written (or rejects: nothing is deleted then). */
function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
}

/** `export`: one JSON line per selected dead letter on stdout; returns how many. */
export async function exportAll(redis: Redis, keys: Keys, remove: boolean, reasonContains: string | undefined): Promise<number> {
  let exported = 0;
  for (let p = 0; p < keys.partitions; p++) {
    for await (const rows of deadLetterPages(redis, keys, p)) {
      const page = rows.filter(selected(reasonContains));
      if (page.length === 0) continue;
      await writeOut(page.map((d) => JSON.stringify(toJson(d))).join('\n') + '\n');
      if (remove) await redis.xdel(keys.deadLetter(p), ...page.map((d) => d.dlId));
      exported += page.length;
    }
  }
  return exported;
}

/**
 * `purge`: deletes the selected dead letters, up to the newest of each partition as of the start
 * (what the operator looked at, not what arrives meanwhile); returns how many were deleted —
 * one re-driven by someone else in between is not counted.
 */
export async function purge(redis: Redis, keys: Keys, reasonContains: string | undefined): Promise<number> {
  let purged = 0;
  for (let p = 0; p < keys.partitions; p++) {
    const end = await newestDeadLetter(redis, keys, p);
    if (end === null) continue;
    for await (const rows of deadLetterPages(redis, keys, p, end)) {
      const page = rows.filter(selected(reasonContains));
      if (page.length > 0) purged += await redis.xdel(keys.deadLetter(p), ...page.map((d) => d.dlId));
    }
  }
  return purged;
}
