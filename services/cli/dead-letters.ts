// Operator commands for the ingestion dead-letter streams (keys.deadLetter(p), one per partition;
// entry format in services/ingestion/dead-letter.ts: reason, entryId, stream, deliveries?, then
// the original ingest fields).
//
//   cli dead-letters list [--limit N] [--json]
//   cli dead-letters redrive <dead-letter-id>... | --all [--reason-contains S]
//   cli dead-letters export [--delete] [--reason-contains S] > dead-letters.jsonl
//   cli dead-letters purge [--reason-contains S] --yes
//
// (`cli` is `npm run cli --` in a checkout, `node dist/cli.js` in the images; `npm run
// dead-letters -- …` is the same as `npm run cli -- dead-letters …`.)
//
// A dead letter is a message or a room event (edit, delete, react: field `ev`).
//
// `list` prints, per partition, the count and the oldest N entries; `--json` prints the same as
// one JSON document ({total, limit, partitions: [{partition, key, count, entries}]}, each entry
// whole, as `export` writes it) for scripts. `redrive` XADDs each selected entry's ORIGINAL
// fields (exactly message.ts ingestEntryFields — room id uid name text cid [re] — or
// ingestEventFields for an event; reason/entryId/stream/deliveries and anything else stripped)
// back to its partition's ingest stream and XDELs it from the dead-letter stream, atomically per
// entry (lua/redrive-dead-letter.lua). A dead letter whose original fields do not parse with
// parseIngestEntry is refused and left in place: a worker would only dead-letter it again. A
// dead-letter id may be written `<partition>:<id>` when the same id exists in two partitions.
//
// `export` writes every selected dead letter as one JSON line on stdout ({partition, dlId,
// reason, entryId, stream, deliveries?, fields}) — for messages no fix will make storable (an
// id_conflict needs a human) or to archive them. With --delete each page of entries is XDELed
// only after its lines were handed to stdout (the write callback), so an export that fails
// half-way deletes only what was written. Dead-letter streams are never trimmed
// (services/ingestion/dead-letter.ts): re-drive, export and purge are the only ways out.
//
// `purge` deletes the selected dead letters for good (what `list` showed, up to each partition's
// newest entry when it starts) and prints how many; it refuses to run without --yes. Those are
// acked messages the store does not hold: export them first unless they are known junk.
//
// Re-driving is safe to repeat: the store is idempotent by (room, id), so re-driving a message
// that was in fact stored (e.g. a dead letter copied twice by a crash) stores nothing new; the
// same holds for an event (by room and event id), and an event re-driven long after newer ones
// changes nothing they decided (the store applies events in id order, not arrival order).
//
// Reads REDIS_URL (or REDIS_CLUSTER_NODES) and PARTITIONS through loadConfig('ingestion'); never prints the URL.
// Exit codes: 0 done, 1 some selected dead letters were not re-driven (refused / not found /
// ambiguous) or Redis failed, 2 bad usage or configuration (one line on stderr).
import { keysFor } from '../shared/keys.js';
import { listJson, listText } from './dead-letter-entries.js';
import { exportAll, purge, redriveAll, redriveIds } from './dead-letter-removal.js';
import { closeQuietly, connectRedis, EXIT, loadOperatorConfig, say, UsageError, warn } from './operator.js';

export const usage =
  'dead-letters list [--limit N] [--json] | redrive <dead-letter-id>... | redrive --all [--reason-contains S] | export [--delete] [--reason-contains S] | purge [--reason-contains S] --yes';

type Command =
  | { kind: 'list'; limit: number; json: boolean }
  | { kind: 'redrive'; ids: { partition?: number; id: string }[] }
  | { kind: 'redrive-all'; reasonContains?: string }
  | { kind: 'export'; remove: boolean; reasonContains?: string }
  | { kind: 'purge'; reasonContains?: string };

function parseArgs(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  if (command === 'list') {
    const cmd: Command = { kind: 'list', limit: 10, json: false };
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--limit' && i + 1 < rest.length && /^[1-9]\d{0,5}$/.test(rest[i + 1]!)) cmd.limit = Number(rest[++i]);
      else if (rest[i] === '--limit') throw new UsageError('--limit needs a whole number from 1 to 999999');
      else if (rest[i] === '--json') cmd.json = true;
      else throw new UsageError(`unexpected argument ${JSON.stringify(rest[i])} for list`);
    }
    return cmd;
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
  if (command === 'purge') {
    const cmd: Command = { kind: 'purge' };
    let yes = false;
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--yes') yes = true;
      else if (rest[i] === '--reason-contains' && rest[i + 1]) cmd.reasonContains = rest[++i]!;
      else throw new UsageError(`unexpected argument ${JSON.stringify(rest[i])} for purge`);
    }
    if (!yes) throw new UsageError('purge deletes dead letters for good and needs --yes (keep a copy first with export)');
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

export async function run(args: readonly string[]): Promise<number> {
  const command = parseArgs(args);
  const config = loadOperatorConfig('ingestion');
  const keys = keysFor(config.PARTITIONS);
  const plural = (n: number) => `${n} dead letter${n === 1 ? '' : 's'}`;
  let redis;
  try {
    redis = await connectRedis(config, 'dead-letters');
    switch (command.kind) {
      case 'list':
        if (command.json) say(JSON.stringify(await listJson(redis, keys, command.limit)));
        else await listText(redis, keys, command.limit, say);
        return EXIT.ok;
      case 'export': {
        const n = await exportAll(redis, keys, command.remove, command.reasonContains);
        warn(`exported ${plural(n)}${command.remove ? ' (deleted from Redis)' : ''}`);
        return EXIT.ok;
      }
      case 'purge':
        say(`purged ${plural(await purge(redis, keys, command.reasonContains))}`);
        return EXIT.ok;
      default: {
        const tally =
          command.kind === 'redrive'
            ? await redriveIds(redis, keys, command.ids, say)
            : await redriveAll(redis, keys, command.reasonContains, say);
        say(`redriven ${tally.redriven}, refused ${tally.refused}, not found ${tally.missing}`);
        return tally.refused + tally.missing > 0 ? EXIT.failed : EXIT.ok;
      }
    }
  } catch (err) {
    // ioredis messages name host:port at most, never the password in REDIS_URL.
    warn(`dead-letters: redis error: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  } finally {
    if (redis) await closeQuietly(redis);
  }
}
