// The attachment collector (DESIGN.md "Files"): uploads no message named within
// ATTACHMENT_ORPHAN_TTL_SEC, and the files of deleted messages, leave storage and the store.
// Its pass also works off the deleted accounts' messages (account-purge.ts).
// Every users replica runs the timer; a Redis lock (SET NX PX) lets one of them do a pass at a
// time. A pass is idempotent — the files go first (deleting an absent key is fine), then the
// rows — so a replica killed mid-pass leaves rows whose files the next pass deletes again.
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { Store } from '../shared/store/store.js';
import { purgeDeletedAccounts } from './account-purge.js';
import type { FileStorage } from './files/file-storage.js';

const BATCH = 100;
/** At most this many batches per pass: a huge backlog is worked off over several passes. */
const MAX_BATCHES = 50;

export interface CollectorDeps {
  config: Pick<Config, 'ATTACHMENT_ORPHAN_TTL_SEC' | 'PARTITIONS'>;
  store: Store;
  storage: FileStorage;
  redis: Redis;
  log: Logger;
}

/** One pass: what is collectable now. Answers how many uploads it removed. */
export async function collectAttachments({ config, store, storage, log }: Omit<CollectorDeps, 'redis'>, now = Date.now()): Promise<number> {
  let removed = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const batch = await store.collectableAttachments(now - config.ATTACHMENT_ORPHAN_TTL_SEC * 1000, BATCH);
    if (batch.length === 0) break;
    for (const att of batch) {
      await storage.delete(att.storageKey);
      if (att.thumbKey !== undefined) await storage.delete(att.thumbKey);
    }
    await store.deleteAttachments(batch.map((a) => a.id));
    removed += batch.length;
    if (batch.length < BATCH) break;
  }
  if (removed > 0) log.info({ removed }, 'attachments collected');
  return removed;
}

/** Interval between passes: a tenth of the orphan TTL, between 10 s and 10 min. */
export const collectorIntervalMs = (orphanTtlSec: number) => Math.min(600_000, Math.max(10_000, orphanTtlSec * 100));

export function startAttachmentCollector(deps: CollectorDeps): { stop(): Promise<void> } {
  const keys = keysFor(deps.config.PARTITIONS);
  const interval = collectorIntervalMs(deps.config.ATTACHMENT_ORPHAN_TTL_SEC);
  let running: Promise<unknown> = Promise.resolve();
  const pass = async () => {
    const got = await deps.redis.set(keys.filesCollectorLock(), process.pid.toString(), 'PX', interval, 'NX');
    if (got !== 'OK') return;
    // deleted accounts' messages first: the files of the messages it removes are then collectable
    await purgeDeletedAccounts({ ...deps, keys });
    await collectAttachments(deps);
  };
  const timer = setInterval(() => {
    running = pass().catch((err: Error) => deps.log.warn({ err: err.message }, 'attachment collection failed; next pass retries'));
  }, interval);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
