// The assistant as its own process (k8s Deployment `assistant`, `npm run start:assistant`): the
// same module the ingestion service runs in-process by default (start.ts), with /healthz /readyz
// /metrics on ADMIN_PORT (19091; /healthz alone on PORT, 9091). Run it with ASSISTANT_ENABLED=false
// on the ingestion service.
import { loadConfigOrExit } from '../shared/config.js';
import { onShutdown } from '../shared/lifecycle.js';
import { createLogger } from '../shared/logger.js';
import { createMetricsRegistry, listenAdmin, listenLiveness, type Ops } from '../shared/ops.js';
import { createStore } from '../shared/store/index.js';
import { startAssistant } from './start.js';

const config = loadConfigOrExit('assistant');
const log = createLogger(config);

async function main(): Promise<void> {
  const store = await createStore(config, log);
  const registry = createMetricsRegistry(config);
  const assistant = await startAssistant({ config, log, store, registry });
  let draining = false;
  const ops: Ops = {
    registry,
    draining: () => draining,
    checks: [{ name: 'store', check: () => store.ping() }],
  };
  const admin = await listenAdmin(ops, { port: config.adminPort, host: config.HOST });
  const server = await listenLiveness({ port: config.port, host: config.HOST });
  log.info({ port: server.port, adminPort: admin.port, consumer: assistant.worker.consumer, provider: config.ASSISTANT_PROVIDER }, 'assistant listening');
  onShutdown(log, [
    ['readiness', () => (draining = true)],
    ['assistant', () => assistant.stop()],
    ['http', () => Promise.all([server.close(), admin.close()])],
    ['store', () => store.close()],
  ], config.SHUTDOWN_DRAIN_MS + 15_000);
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'assistant failed to start');
  log.flush?.();
  setTimeout(() => process.exit(1), 50);
});
