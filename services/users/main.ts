// The users service: accounts, JWTs, the REST API and the browser client, on PORT (4000);
// /readyz and /metrics on ADMIN_PORT (14000). Start: config -> logger -> store -> Redis -> app ->
// admin listener -> listen. SIGTERM: readiness red, stop accepting and let in-flight requests
// finish (bounded by SHUTDOWN_DRAIN_MS), then close Redis and the store — the reverse of start.
import { createServer } from 'node:http';
import { loadConfigOrExit } from '../shared/config.js';
import { onShutdown } from '../shared/lifecycle.js';
import { createLogger } from '../shared/logger.js';
import { createMetricsRegistry, listenAdmin } from '../shared/ops.js';
import { closeRedis, createRedis } from '../shared/redis.js';
import { warnIfTooFewReplicas } from '../shared/replica-ack.js';
import { createStore } from '../shared/store/index.js';
import { createApp } from './app.js';
import { createFileStorage } from './files/file-storage.js';
import { startAttachmentCollector } from './files-gc.js';

import { ensureAssistantUser } from '../assistant/identity.js';

const config = loadConfigOrExit('users');
const log = createLogger(config);

async function main(): Promise<void> {
  const store = await createStore(config, log);
  // the name `assistant` is the assistant's (assistant/identity.ts), never a person's to register
  await ensureAssistantUser(store, log).catch((err: unknown) => log.error({ err }, 'the assistant account could not be made sure of'));
  const redis = createRedis(config, log, { role: 'main' });
  redis.once('ready', () => void warnIfTooFewReplicas(redis, config.REDIS_ACK_REPLICAS, log));
  const registry = createMetricsRegistry(config);
  const storage = await createFileStorage(config);
  const { app, ops, startDraining } = await createApp({ config, log, store, redis, registry, storage });
  const collector = startAttachmentCollector({ config, store, storage, redis, log });

  // First the admin port: once the main port answers, probes and scrapes find it too.
  const admin = await listenAdmin(ops, { port: config.adminPort, host: config.HOST });
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  log.info({ host: config.HOST, port: config.port, adminPort: admin.port, store: store.kind }, 'users service listening');

  onShutdown(log, [
    ['readiness', () => startDraining()],
    ['attachment collector', () => collector.stop()],
    [
      'http',
      () =>
        new Promise<void>((resolve) => {
          // close() stops accepting and resolves once in-flight requests are done; idle
          // keep-alive sockets are closed at once, busy ones after the drain window.
          const force = setTimeout(() => server.closeAllConnections(), config.SHUTDOWN_DRAIN_MS);
          force.unref();
          server.close(() => {
            clearTimeout(force);
            resolve();
          });
          server.closeIdleConnections();
        }),
    ],
    ['redis', () => closeRedis(redis)],
    ['store', () => store.close()],
    ['file storage', () => storage.close()],
    // last: /readyz answers 503 (draining) until the very end
    ['admin http', () => admin.close()],
  ]);
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'users service failed to start');
  log.flush?.();
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 50);
});
