// What is wrong, or risky, in a service's configuration, said without printing a secret.
// Problems are what the service itself would refuse to start with (config.ts loadConfig) — but
// ALL bad variables at once, where the service stops at the first. Warnings are settings config.ts
// accepts that are dangerous or surprising where they are (a public development secret, a
// development origin list in production, a provider that cannot authenticate).
import { CONFIG_VARIABLES, ConfigError, DEV_JWT_SECRET, envSchema, isLoopbackHost, loadConfig, type Config, type ServiceName } from '../shared/config.js';
import { mayEchoInvalid } from './mask.js';

export const SERVICES: readonly ServiceName[] = ['users', 'chat', 'ingestion', 'assistant'];

/** Services that sign (users) or verify (chat) access tokens: the only ones JWT_SECRET matters to. */
const USES_JWT: readonly ServiceName[] = ['users', 'chat'];
const DEFAULT_ORIGINS = envSchema.shape.ALLOWED_ORIGINS.parse(undefined).join(',');

/** The raw settings as loadConfig reads them: an empty string means unset. */
export function rawSettings(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(CONFIG_VARIABLES.map((k) => [k, env[k] === '' ? undefined : env[k]]));
}

/** Bad variables, one line each, whatever the service (the schema every service parses). */
export function schemaProblems(env: NodeJS.ProcessEnv): string[] {
  const parsed = envSchema.safeParse(rawSettings(env));
  if (parsed.success) return [];
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const issue of parsed.error.issues) {
    const name = String(issue.path[0] ?? 'config');
    if (seen.has(name)) continue;
    seen.add(name);
    const value = env[name] ?? '';
    lines.push(`invalid ${name}${mayEchoInvalid(name, value) ? `=${JSON.stringify(value)}` : ' (value not shown)'}: ${issue.message}`);
  }
  return lines;
}

/** Every reason `service` would refuse `env`, one line per bad variable; [] when it would start. */
export function configProblems(service: ServiceName, env: NodeJS.ProcessEnv): string[] {
  const bad = schemaProblems(env);
  if (bad.length > 0) return bad;
  try {
    loadConfig(service, env);
    return [];
  } catch (err) {
    // The checks across variables (loadConfig) name values only when they are not secret.
    if (err instanceof ConfigError) return [err.message];
    throw err;
  }
}

/** Settings `service` accepts that an operator should know about; [] when there are none. */
export function configWarnings(service: ServiceName, config: Config, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  if (USES_JWT.includes(service)) {
    if (config.JWT_SECRET === DEV_JWT_SECRET) {
      out.push(
        isLoopbackHost(config.HOST)
          ? 'JWT_SECRET is the public development default: anyone who reaches this machine can sign in as anyone'
          : `JWT_SECRET is the public development default and HOST=${config.HOST} is reachable from other machines: anyone can sign in as anyone (allowed only because NODE_ENV=${config.NODE_ENV} was set explicitly)`,
      );
    } else if (config.JWT_SECRET.length < 32) {
      out.push('JWT_SECRET is shorter than 32 characters: production refuses it');
    }
  }
  if (config.isProduction && service === 'chat' && config.ALLOWED_ORIGINS.join(',') === DEFAULT_ORIGINS) {
    out.push('ALLOWED_ORIGINS is the development default (localhost:4000): browsers on your real domain are refused');
  }
  if (config.isProduction && config.store === 'sqlite' && service !== 'chat') {
    out.push(`MONGO_URL is unset: the embedded SQLite store at SQLITE_PATH=${config.SQLITE_PATH}; every users, ingestion and assistant process must share that one file (one machine)`);
  }
  const runsAssistant = service === 'assistant' || (service === 'ingestion' && config.ASSISTANT_ENABLED);
  if (runsAssistant && config.ASSISTANT_PROVIDER === 'openai' && !config.ASSISTANT_API_KEY && /^https:\/\/api\.openai\.com\//.test(config.ASSISTANT_BASE_URL)) {
    out.push('ASSISTANT_PROVIDER=openai with ASSISTANT_BASE_URL at api.openai.com and no ASSISTANT_API_KEY: every answer will fail');
  }
  if (service === 'users' && config.FILE_STORAGE === 's3' && Boolean(config.S3_ACCESS_KEY_ID) !== Boolean(config.S3_SECRET_ACCESS_KEY)) {
    out.push('only one of S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY is set, so it is ignored (the SDK looks for credentials itself): set both, or neither');
  }
  if (env.NODE_ENV === undefined || env.NODE_ENV === '') {
    out.push('NODE_ENV is unset: development defaults (HOST 127.0.0.1, pretty logs); the images set NODE_ENV=production');
  }
  return out;
}
