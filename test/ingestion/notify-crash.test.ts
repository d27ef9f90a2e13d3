// kill -9 of the REAL ingestion process (which runs the notify group beside storage) while the
// notifier is mid-way through a queue of mentions and DMs: after a restart every (user, cause)
// has exactly one notification — none missing, none twice, each of the right kind.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../services/shared/message.js';
import type { Store } from '../../services/shared/store/store.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import { allAcked, keysFor, openStore, startWorker, tempDir } from './fixtures.js';
import { PRIV, inbox, message, notifyDone, notifyPending, produceMessages, setupCast } from './notify-fixtures.js';

const PARTITIONS = 4;
const keys = keysFor(PARTITIONS);
const COUNT = 4000;

let redis: TestRedis;
let tmp: ReturnType<typeof tempDir>;
let store: Store | undefined;
const workers: RunningService[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop('SIGKILL');
  await store?.close();
  tmp?.cleanup();
  await redis.client().flushall();
});

afterAll(async () => {
  await redis?.stop();
});

describe('notify worker killed with SIGKILL', { timeout: 180_000 }, () => {
  it('mid-way through a queue of mentions: after a restart every (user, cause) has exactly one notification', async () => {
    tmp = tempDir('aurora-notify-crash-');
    store = await openStore(tmp.dbPath);
    const c = await setupCast(store);
    const client = redis.client();
    // Every other message mentions bob and carol (DND: stored all the same) in PRIV, the others are DMs to bob.
    let seq = 0;
    const sent: ChatMessage[] = Array.from({ length: COUNT }, (_, i) =>
      i % 2 === 0
        ? message(PRIV, c.alice, `@${c.bob.name} @${c.carol.name} number ${i}`, { seq: ++seq, mentions: [c.bob.id, c.carol.id] })
        : message(c.dm, c.alice, `dm number ${i}`, { seq: i }),
    );
    await produceMessages(client, keys, sent);
    const env = { redisUrl: redis.url, dbPath: tmp.dbPath, partitions: PARTITIONS };
    // Kill it while its notifier holds entries it has not acked, after it stored some. The
    // notifier may ack between the check and the kill: then the kill proved nothing, and the same
    // consumer is started again (its restart re-reads its own pending entries) and killed again.
    let heldAtKill = 0;
    for (let attempt = 0; attempt < 5 && heldAtKill === 0; attempt++) {
      const doomed = await startWorker({ ...env, consumer: 'doomed', extra: { INGEST_BATCH_SIZE: '50' } });
      workers.push(doomed);
      await waitFor(async () => (await store!.unreadNotificationCount(c.bob.id)) > 0 && (await notifyPending(client, keys, 'doomed')) > 0, {
        timeoutMs: 60_000, intervalMs: 5, what: 'notifier holding a batch',
      });
      await doomed.stop('SIGKILL');
      heldAtKill = await notifyPending(client, keys, 'doomed');
    }
    expect(heldAtKill).toBeGreaterThan(0);
    expect(await store.unreadNotificationCount(c.bob.id)).toBeLessThan(COUNT);

    const rescuer = await startWorker({ ...env, consumer: 'rescuer', extra: { INGEST_CLAIM_IDLE_MS: '500' } });
    workers.push(rescuer);
    await waitFor(async () => (await notifyDone(client, keys)) && (await allAcked(client, keys)), { timeoutMs: 90_000, what: 'notify group done' });

    const bobs = await inbox(store, c.bob.id);
    const carols = await inbox(store, c.carol.id);
    const ids = (list: { id: string }[]) => new Set(list.map((n) => n.id));
    expect(ids(bobs).size).toBe(bobs.length);
    expect(ids(carols).size).toBe(carols.length);
    const expectedBob = sent.map((m) => `${m.room === PRIV ? 'mention' : 'dm'} ${m.id}`).sort();
    expect(bobs.map((n) => `${n.kind} ${n.sourceId}`).sort()).toEqual(expectedBob);
    expect(carols.map((n) => `${n.kind} ${n.sourceId}`).sort()).toEqual(sent.filter((m) => m.room === PRIV).map((m) => `mention ${m.id}`).sort());
    expect(await inbox(store, c.alice.id)).toEqual([]);
    expect(rescuer.logs.some((l) => l.includes('notify: claimed idle entries'))).toBe(true);
  });
});
