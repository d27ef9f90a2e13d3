// `config check` and `config print`: the configuration a service would run with, read from this
// process's environment exactly as the service reads it (shared/config.ts), so running them in a
// pod or container (`node dist/cli.js config check`) answers "would it start, and with what?"
// without starting it. Secrets never appear (mask.ts).
//
//   config check [--service users|chat|ingestion|assistant]
//       every service (or one): "ok" with a summary, or every bad variable; then the warnings
//       (config-check.ts). Exit 0 when every checked service would start, 2 when one would not.
//   config print [--service S] [--json]
//       every setting, its effective value and its source (env or default), secrets as ***.
//       With --service also what the service derives (port, HOST default, store, replica id).
import { CONFIG_VARIABLES, envSchema, loadConfig, type ServiceName } from '../shared/config.js';
import { configProblems, configWarnings, rawSettings, schemaProblems, SERVICES } from './config-check.js';
import { maskSetting } from './mask.js';
import { EXIT, parseFlags, say, stringFlag, UsageError, warn } from './operator.js';

export const usage = 'config check [--service users|chat|ingestion|assistant] | config print [--service S] [--json]';

function serviceFlag(value: string | undefined): ServiceName | undefined {
  if (value === undefined) return undefined;
  if (!(SERVICES as readonly string[]).includes(value)) throw new UsageError(`--service must be one of ${SERVICES.join(', ')}`);
  return value as ServiceName;
}

export async function run(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = args;
  if (command === 'check') {
    const parsed = parseFlags(rest, { service: 'value' }, 'config check');
    return check(serviceFlag(stringFlag(parsed, 'service')), env);
  }
  if (command === 'print') {
    const parsed = parseFlags(rest, { service: 'value', json: 'switch' }, 'config print');
    return print(serviceFlag(stringFlag(parsed, 'service')), parsed.flags.json === true, env);
  }
  throw new UsageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`);
}

function check(only: ServiceName | undefined, env: NodeJS.ProcessEnv): number {
  // A bad variable is bad for every service: said once.
  const bad = schemaProblems(env);
  if (bad.length > 0) {
    for (const p of bad) say(`error: ${p}`);
    return EXIT.usage;
  }
  let failed = false;
  // One warning may concern several services (the JWT secret: users and chat): said once too.
  const warnings = new Map<string, ServiceName[]>();
  for (const service of only ? [only] : SERVICES) {
    const problems = configProblems(service, env);
    if (problems.length > 0) {
      failed = true;
      for (const p of problems) say(`${service}: error: ${p}`);
      continue;
    }
    const c = loadConfig(service, env);
    const redis = c.REDIS_CLUSTER_NODES.length > 0 ? `Redis Cluster (${c.REDIS_CLUSTER_NODES.length} seed nodes)` : 'a single Redis';
    // Chat replicas hold no store (DESIGN.md): naming one would mislead.
    const store = service === 'chat' ? '' : `store ${c.store}, `;
    say(`${service}: ok (NODE_ENV=${c.NODE_ENV}, listens on ${c.HOST}:${c.port}, ${store}${redis}, PARTITIONS=${c.PARTITIONS})`);
    for (const w of configWarnings(service, c, env)) warnings.set(w, [...(warnings.get(w) ?? []), service]);
  }
  for (const [w, services] of warnings) say(`warning: ${w}${only ? '' : ` [${services.join(', ')}]`}`);
  return failed ? EXIT.usage : EXIT.ok;
}

type Shown = string | number | boolean | string[] | null;

function shown(name: string, value: unknown): Shown {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return value.map((v) => maskSetting(name, String(v)));
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  return maskSetting(name, String(value));
}

function print(service: ServiceName | undefined, json: boolean, env: NodeJS.ProcessEnv): number {
  const raw = rawSettings(env);
  let values: Record<string, unknown>;
  let derived: Record<string, Shown> | undefined;
  if (service) {
    const problems = configProblems(service, env);
    if (problems.length > 0) {
      for (const p of problems) warn(`config print: ${service}: ${p}`);
      return EXIT.usage;
    }
    const c = loadConfig(service, env);
    values = { ...c, PORT: c.port, ADMIN_PORT: c.adminPort };
    derived = { service, isProduction: c.isProduction, prettyLogs: c.prettyLogs, store: c.store, replicaId: c.replicaId };
  } else {
    // No service named: the variables alone (PORT, ADMIN_PORT and HOST defaults depend on the service).
    const parsed = envSchema.safeParse(raw);
    if (!parsed.success) {
      for (const p of schemaProblems(env)) warn(`config print: ${p}`);
      return EXIT.usage;
    }
    values = parsed.data;
  }
  const settings = CONFIG_VARIABLES.map((name) => ({
    name,
    value: shown(name, values[name]),
    source: raw[name] !== undefined ? 'env' : 'default',
  }));
  if (json) {
    say(JSON.stringify({
      ...(service ? { service } : {}),
      settings: Object.fromEntries(settings.map((s) => [s.name, { value: s.value, source: s.source }])),
      ...(derived ? { derived } : {}),
    }, null, 2));
    return EXIT.ok;
  }
  const text = (v: Shown) => (v === null ? '(unset)' : Array.isArray(v) ? v.join(',') : String(v));
  for (const s of settings) say(`${s.source.padEnd(8)} ${s.name}=${text(s.value)}`);
  for (const [name, value] of Object.entries(derived ?? {})) say(`${'derived'.padEnd(8)} ${name}=${text(value)}`);
  return EXIT.ok;
}
