// Chat replica entry point: config -> logger -> server -> admin listener (/readyz, /metrics on
// ADMIN_PORT) -> listen -> graceful shutdown.
import { loadConfigOrExit } from '../shared/config.js';
import { onShutdown } from '../shared/lifecycle.js';
import { createLogger } from '../shared/logger.js';
import { listenAdmin } from '../shared/ops.js';
import { createChatServer } from './server.js';

const config = loadConfigOrExit('chat');
const log = createLogger(config);
const chat = createChatServer(config, log);

// Handlers catch their own errors; this is the last line of defence so that one stray
// rejection is logged instead of taking every socket of the replica down with it.
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

async function main(): Promise<void> {
  // First the admin port: once the main port answers, probes and scrapes find it too.
  const admin = await listenAdmin(chat.ops, { port: config.adminPort, host: config.HOST });
  chat.server.on('error', (err) => {
    log.fatal({ err }, 'http server failed');
    process.exit(1);
  });
  chat.server.listen(config.port, config.HOST, () => {
    log.info({ port: config.port, adminPort: admin.port, host: config.HOST }, 'chat replica listening');
  });
  // The admin listener closes last: /readyz answers 503 (draining) until the very end.
  onShutdown(log, [...chat.shutdownSteps(), ['close admin server', () => admin.close()]], config.SHUTDOWN_DRAIN_MS + 15_000);
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'chat replica failed to start');
  log.flush?.();
  setTimeout(() => process.exit(1), 50);
});
