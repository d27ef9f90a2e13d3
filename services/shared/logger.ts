// One pino logger per process, created from config and passed down (no module-level logger,
// no console.*). Every line carries `service` and `replica` so logs from N replicas can be told
// apart. Secrets never reach it: the redact list is a second line of defence, not the first.
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

export const REDACT_PATHS = [
  'password',
  '*.password',
  'passwordHash',
  '*.passwordHash',
  'token',
  '*.token',
  'refreshToken',
  '*.refreshToken',
  'req.headers.authorization',
  'req.headers["sec-websocket-protocol"]',
  'headers.authorization',
  'headers["sec-websocket-protocol"]',
  // the assistant's provider key (config.ts ASSISTANT_API_KEY), should a config object be logged
  'apiKey',
  '*.apiKey',
  'ASSISTANT_API_KEY',
  '*.ASSISTANT_API_KEY',
];

export function createLogger(
  config: Pick<Config, 'service' | 'replicaId' | 'LOG_LEVEL' | 'prettyLogs'>,
  destination?: pino.DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    level: config.LOG_LEVEL,
    base: { service: config.service, replica: config.replicaId },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination);
  if (config.prettyLogs) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        // One line per record: concurrently prefixes each line with the service name.
        options: { colorize: true, singleLine: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service,replica' },
      },
    });
  }
  return pino(options);
}
