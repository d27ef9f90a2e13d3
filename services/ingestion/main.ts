// Ingestion worker process: config -> logger -> store + Redis -> worker loop + notifier (its own
// consumer group and blocking reader, when NOTIFY_ENABLED) + the assistant (its own group and
// connections, when ASSISTANT_ENABLED: services/assistant/start.ts) + trimmer -> /healthz /readyz
// /metrics on ADMIN_PORT (/healthz alone on PORT) -> graceful shutdown (reverse order). Neither
// the notifier nor the assistant has a readiness check on purpose: /readyz says whether this
// process STORES; a notifier or an assistant in trouble must not take storage out of service
// (their metrics and logs say so).
import { loadConfigOrExit } from '../shared/config.js';
import { INGEST_GROUP, keysFor } from '../shared/keys.js';
import { onShutdown } from '../shared/lifecycle.js';
import { createLogger } from '../shared/logger.js';
import { createMetricsRegistry, listenAdmin, listenLiveness, type Ops } from '../shared/ops.js';
import { closeRedis, createRedis } from '../shared/redis.js';
import { createStore } from '../shared/store/index.js';
import { createIngestMetrics } from './metrics.js';
import { deadLetterCount } from './dead-letter.js';
import { Trimmer } from './trimmer.js';
import { watchAcls } from '../shared/acl-rebuild.js';
import { IngestWorker } from './worker.js';
import { createNotifyMetrics } from '../notify/metrics.js';
import { NOTIFY_GROUP, NotifyWorker } from '../notify/worker.js';
import { startAssistant, type RunningAssistant } from '../assistant/start.js';

const config = loadConfigOrExit('ingestion');
const log = createLogger(config);

async function main(): Promise<void> {
  const keys = keysFor(config.PARTITIONS);
  const store = await createStore(config, log);
  const redis = createRedis(config, log, { role: 'ingest-main' });
  const reader = createRedis(config, log, { role: 'ingest-reader', blocking: true });

  const registry = createMetricsRegistry(config);
  const metrics = createIngestMetrics(registry);
  const worker = new IngestWorker({ config, log, redis, reader, store, keys, metrics });
  // Registered even when disabled: a notify group left on the streams still shows its lag.
  const notifyMetrics = createNotifyMetrics(registry);
  const notifyReader = config.NOTIFY_ENABLED ? createRedis(config, log, { role: 'notify-reader', blocking: true }) : null;
  const notifier = notifyReader ? new NotifyWorker({ config, log, redis, reader: notifyReader, store, keys, metrics: notifyMetrics }) : null;
  const trimmer = new Trimmer({
    redis,
    streams: keys.allIngestStreams(),
    group: INGEST_GROUP,
    intervalMs: config.INGEST_TRIM_INTERVAL_MS,
    log,
    metrics,
    countDeadLetters: () => deadLetterCount(redis, keys),
    maxOtherGroupLag: config.NOTIFY_MAX_LAG,
    onGroupState: (stream, g) => {
      if (g.name === NOTIFY_GROUP && g.lag !== null) notifyMetrics.lag.set({ stream }, g.lag);
    },
    onUnreadTrimmed: (stream, group, count) => {
      if (group === NOTIFY_GROUP) notifyMetrics.skipped.inc({ reason: 'trimmed' }, count);
      log.warn({ stream, group, count, maxLag: config.NOTIFY_MAX_LAG }, 'group lagged too far behind: its oldest unread entries were trimmed');
    },
  });

  let draining = false;
  const ops: Ops = {
    registry,
    draining: () => draining,
    checks: [
      { name: 'redis', check: () => redis.ping() },
      { name: 'store', check: () => store.ping() },
      {
        name: 'store-writes',
        check: () => {
          if (!worker.storeWritesOk()) throw new Error('last store write failed');
        },
      },
    ],
  };
  const admin = await listenAdmin(ops, { port: config.adminPort, host: config.HOST });
  const server = await listenLiveness({ port: config.port, host: config.HOST });
  log.info({ port: server.port, adminPort: admin.port, consumer: worker.consumer, partitions: config.PARTITIONS, store: store.kind, notify: config.NOTIFY_ENABLED }, 'ingestion listening');

  worker.start();
  notifier?.start();
  trimmer.start();
  // Storage never waits for the assistant: a failure to start it is logged, and ingestion goes on.
  let assistant: RunningAssistant | null = null;
  if (config.ASSISTANT_ENABLED) {
    assistant = await startAssistant({ config, log, store, registry }).catch((err: unknown) => {
      log.error({ err }, 'the assistant did not start; ingestion runs without it');
      return null;
    });
  }
  const acls = watchAcls(redis, keys, store, log);

  onShutdown(log, [
    ['readiness', () => (draining = true)],
    // Finish and ack the batch in hand; a blocked read returns within INGEST_BATCH_MS.
    [
      'worker',
      () =>
        Promise.race([
          Promise.all([worker.stop(), notifier?.stop(), assistant?.stop()]),
          new Promise((r) => setTimeout(r, config.SHUTDOWN_DRAIN_MS + 2000).unref()),
        ]),
    ],
    ['trimmer', () => trimmer.stop()],
    ['acls', () => acls.stop()],
    ['http', () => Promise.all([server.close(), admin.close()])],
    ['redis', () => Promise.all([closeRedis(reader), ...(notifyReader ? [closeRedis(notifyReader)] : []), closeRedis(redis)])],
    ['store', () => store.close()],
  ], config.SHUTDOWN_DRAIN_MS + 15_000);
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'ingestion failed to start');
  log.flush?.();
  setTimeout(() => process.exit(1), 50);
});
