// Reading the dead-letter streams for the `dead-letters` commands (dead-letters.ts has the
// whole story): one entry split into its header and original fields, paging through a
// partition, and `list` in its two forms — lines for a person, one JSON document for a script.
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import { fieldRecord } from '../shared/redis.js';

const TEXT_PREVIEW_CHARS = 60;
export const PAGE = 100;

export interface DeadLetter {
  dlId: string;
  partition: number;
  reason: string;
  entryId: string;
  stream: string;
  deliveries?: string;
  /** The ingest entry's own field/value list, header stripped. */
  original: string[];
}

/** One dead letter as `export` lines and `list --json` entries carry it. */
export interface DeadLetterJson {
  partition: number;
  dlId: string;
  reason: string;
  entryId: string;
  stream: string;
  deliveries?: string;
  fields: Record<string, string>;
}

/** Splits a dead-letter entry into its header (reason, entryId, stream, deliveries?) and the original fields. */
export function parseDeadLetter(partition: number, dlId: string, flat: readonly string[]): DeadLetter {
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

export function toJson(d: DeadLetter): DeadLetterJson {
  return {
    partition: d.partition,
    dlId: d.dlId,
    reason: d.reason,
    entryId: d.entryId,
    stream: d.stream,
    ...(d.deliveries !== undefined ? { deliveries: d.deliveries } : {}),
    fields: fieldRecord(d.original),
  };
}

/**
 * A partition's dead letters, oldest first, a page at a time, up to `end` (inclusive). A caller
 * that deletes what it was given may keep iterating: the next page starts after the last id seen.
 */
export async function* deadLetterPages(redis: Redis, keys: Keys, partition: number, end = '+'): AsyncGenerator<DeadLetter[]> {
  const key = keys.deadLetter(partition);
  let start = '-';
  for (;;) {
    const rows = (await redis.xrange(key, start, end, 'COUNT', PAGE)) as [string, string[]][];
    if (rows.length > 0) yield rows.map(([dlId, flat]) => parseDeadLetter(partition, dlId, flat));
    if (rows.length < PAGE) return;
    start = `(${rows[rows.length - 1]![0]}`;
  }
}

/** The newest dead-letter id of a partition now, or null when it has none. */
export async function newestDeadLetter(redis: Redis, keys: Keys, partition: number): Promise<string | null> {
  const last = (await redis.xrevrange(keys.deadLetter(partition), '+', '-', 'COUNT', 1)) as [string, string[]][];
  return last[0]?.[0] ?? null;
}

export const show = (s: string | undefined) => (s === undefined ? '-' : JSON.stringify(s));
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `list`: per partition, the count and the oldest `limit` entries, one line each. */
export async function listText(redis: Redis, keys: Keys, limit: number, out: (line: string) => void): Promise<void> {
  let total = 0;
  for (let p = 0; p < keys.partitions; p++) {
    const key = keys.deadLetter(p);
    const count = await redis.xlen(key);
    total += count;
    const shown = count > limit ? ` (oldest ${limit} shown)` : '';
    out(`partition ${p} ${key}: ${plural(count, 'dead letter')}${shown}`);
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
  out(`total: ${plural(total, 'dead letter')} in ${plural(keys.partitions, 'partition')}`);
}

export interface DeadLetterListing {
  total: number;
  /** Entries per partition at most (the oldest), as with --limit. */
  limit: number;
  partitions: { partition: number; key: string; count: number; entries: DeadLetterJson[] }[];
}

/** `list --json`: the same selection as one document, entries whole (as `export` writes them). */
export async function listJson(redis: Redis, keys: Keys, limit: number): Promise<DeadLetterListing> {
  const listing: DeadLetterListing = { total: 0, limit, partitions: [] };
  for (let p = 0; p < keys.partitions; p++) {
    const key = keys.deadLetter(p);
    const count = await redis.xlen(key);
    listing.total += count;
    const rows = count === 0 ? [] : ((await redis.xrange(key, '-', '+', 'COUNT', limit)) as [string, string[]][]);
    listing.partitions.push({ partition: p, key, count, entries: rows.map(([dlId, flat]) => toJson(parseDeadLetter(p, dlId, flat))) });
  }
  return listing;
}
