// Chat replica entry point: config -> logger -> server -> listen -> graceful shutdown.
import { loadConfigOrExit } from '../shared/config.js';
import { onShutdown } from '../shared/lifecycle.js';
import { createLogger } from '../shared/logger.js';
import { createChatServer } from './server.js';

const config = loadConfigOrExit('chat');
const log = createLogger(config);
const chat = createChatServer(config, log);

chat.server.listen(config.port, config.HOST, () => {
  log.info({ port: config.port, host: config.HOST }, 'chat replica listening');
});
chat.server.on('error', (err) => {
  log.fatal({ err }, 'http server failed');
  process.exit(1);
});
// Handlers catch their own errors; this is the last line of defence so that one stray
// rejection is logged instead of taking every socket of the replica down with it.
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
onShutdown(log, chat.shutdownSteps(), config.SHUTDOWN_DRAIN_MS + 15_000);
