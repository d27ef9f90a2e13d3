// What every command group of the operator CLI shares: its usage errors, the configuration it
// loads (exactly as a service would, with errors that never echo a secret), a logger that keeps
// stdout for the command's own output, a Redis connection that fails fast with one clear line,
// and a strict flag parser. Exit codes, the same for every command: 0 done, 1 the operation
// failed (or did not do all it was asked), 2 bad usage or configuration (one line on stderr).
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config, type ServiceName } from '../shared/config.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { createRedis } from '../shared/redis.js';
import { configProblems } from './config-check.js';

/** Bad input: main prints `<group>: <message>; usage: <the group's usage>` and exits 2. */
export class UsageError extends Error {}

/** A configuration the service would refuse: main prints `<group>: configuration error: …` and exits 2. */
export class OperatorConfigError extends Error {}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export const say = (line: string) => process.stdout.write(`${line}\n`);
export const warn = (line: string) => process.stderr.write(`${line}\n`);

/**
 * The configuration `service` would run with. Commands that sign or verify no token load the
 * ingestion config (config.ts usesJwt), so they also run where JWT_SECRET is not mounted.
 */
export function loadOperatorConfig(service: ServiceName, env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(service, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // loadConfig's own message quotes the bad value, which may be a URL with a password in it.
    throw new OperatorConfigError(configProblems(service, env)[0] ?? 'invalid configuration');
  }
}

/**
 * JSON log lines on stderr (stdout is the command's output: a token, an export). LOG_LEVEL=info
 * (the services' usual level) means warn here: an operator wants the result, not "redis ready".
 */
export function operatorLogger(config: Config): Logger {
  const level = config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL;
  return createLogger({ ...config, LOG_LEVEL: level }, pino.destination({ fd: 2, sync: true }));
}

/**
 * A Redis client that gives up after a few retries instead of reconnecting for ever (a command
 * run against a wrong REDIS_URL must end with an error, not hang). Connected on return. The
 * message names the variable, never the URL (it may carry a password).
 */
export async function connectRedis(config: Config, role: string): Promise<Redis> {
  const redis = createRedis(config, pino({ level: 'silent' }), {
    role,
    extra: { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: (times) => (times > 3 ? null : 200 * times) },
  });
  let lastError = '';
  redis.on('error', (err: Error) => (lastError = err.message)); // reported once, by the throw below
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    const which = config.REDIS_CLUSTER_NODES.length > 0 ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL';
    throw new Error(`cannot connect to Redis (${which}): ${lastError || (err instanceof Error ? err.message : String(err))}`);
  }
  return redis;
}

/** QUIT with a bound (quit hangs when Redis went away), then drop the connection. */
export async function closeQuietly(redis: Redis): Promise<void> {
  await Promise.race([redis.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
  redis.disconnect();
}

export type FlagSpec = Record<string, 'switch' | 'value'>;

export interface ParsedArgs {
  /** `--name value` flags (a string) and `--switch` flags (true), by name without the dashes. */
  flags: Record<string, string | true>;
  positional: string[];
}

/**
 * Strict parsing: an unknown flag, a flag given twice, a value flag without its value or more
 * positional arguments than `maxPositional` is a UsageError naming the argument.
 */
export function parseFlags(args: readonly string[], spec: FlagSpec, command: string, maxPositional = 0): ParsedArgs {
  const out: ParsedArgs = { flags: {}, positional: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      if (out.positional.length >= maxPositional) throw new UsageError(`unexpected argument ${JSON.stringify(arg)} for ${command}`);
      out.positional.push(arg);
      continue;
    }
    const name = arg.slice(2);
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option ${JSON.stringify(arg)} for ${command}`);
    if (name in out.flags) throw new UsageError(`${arg} given twice`);
    if (kind === 'switch') {
      out.flags[name] = true;
    } else {
      const value = args[i + 1];
      if (value === undefined || value === '' || value.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      out.flags[name] = value;
      i++;
    }
  }
  return out;
}

/** A whole number flag within [min, max], or `def` when absent. */
export function intFlag(parsed: ParsedArgs, name: string, def: number, min: number, max: number): number {
  const raw = parsed.flags[name];
  if (raw === undefined) return def;
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`--${name} needs a whole number from ${min} to ${max}`);
  }
  return Number(raw);
}

/** A value flag's string, or undefined. */
export function stringFlag(parsed: ParsedArgs, name: string): string | undefined {
  const raw = parsed.flags[name];
  return typeof raw === 'string' ? raw : undefined;
}
