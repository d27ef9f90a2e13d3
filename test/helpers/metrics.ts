// Every metric the services register, from the same create*Metrics functions the processes call,
// each on a fresh Registry (prom-client's default process_* / nodejs_* metrics are not in it: they
// keep their standard names). The metric-name, dashboard and alert tests check against this.
import { Registry } from 'prom-client';
import { createAssistantMetrics } from '../../services/assistant/metrics.js';
import { createChatMetrics } from '../../services/chat/metrics.js';
import { createRedisMemoryGauges } from '../../services/chat/redis-memory.js';
import { createIngestMetrics } from '../../services/ingestion/metrics.js';
import { createNotifyMetrics } from '../../services/notify/metrics.js';
import { createUsersMetrics } from '../../services/users/metrics.js';

/** The component in every name (aurora_<component>_…): the service, or notify (its own consumer group). */
export type MetricComponent = 'users' | 'chat' | 'ingestion' | 'assistant' | 'notify';

export interface RegisteredMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  labelNames: string[];
  /** The component whose create*Metrics function registered it. */
  component: MetricComponent;
}

/** Labels every series carries besides its own: createMetricsRegistry's default labels. */
export const DEFAULT_LABELS = ['service', 'replica'];

const REGISTRARS: [MetricComponent, (r: Registry) => unknown][] = [
  ['users', (r) => createUsersMetrics(r)],
  ['chat', (r) => createChatMetrics(r, () => 0, () => 0)],
  // reads Redis only when collected: never here
  ['chat', (r) => createRedisMemoryGauges(r, {} as never, {} as never)],
  ['ingestion', (r) => createIngestMetrics(r)],
  ['notify', (r) => createNotifyMetrics(r)],
  ['assistant', (r) => createAssistantMetrics(r)],
];

export function registeredMetrics(): RegisteredMetric[] {
  return REGISTRARS.flatMap(([component, register]) => {
    const registry = new Registry();
    register(registry);
    return registry.getMetricsAsArray().map((m) => {
      const metric = m as unknown as { name: string; help: string; type: RegisteredMetric['type']; labelNames?: string[] };
      return { name: metric.name, help: metric.help, type: metric.type, labelNames: [...(metric.labelNames ?? [])], component };
    });
  });
}

/** Every aurora_* identifier of a PromQL expression, as written (series suffixes included). */
export function seriesIn(expr: string): string[] {
  return [...expr.matchAll(/\baurora_[a-z0-9_]+/g)].map((m) => m[0]);
}

/**
 * The registered metric a series name belongs to: the metric itself, or the _bucket, _sum or
 * _count series of a histogram (or summary); undefined when the code registers no such thing.
 */
export function metricOfSeries(series: string, metrics: RegisteredMetric[]): RegisteredMetric | undefined {
  const exact = metrics.find((m) => m.name === series);
  if (exact) return exact;
  const base = /^(.*)_(bucket|sum|count)$/.exec(series);
  const m = base ? metrics.find((x) => x.name === base[1]) : undefined;
  if (!m || m.type === 'counter' || m.type === 'gauge') return undefined;
  if (base![2] === 'bucket' && m.type !== 'histogram') return undefined;
  return m;
}

/** A service's first sample of `name` from its /metrics (on the admin port), NaN when absent. */
export async function scrapeMetric(adminUrl: string, name: string): Promise<number> {
  const text = await (await fetch(adminUrl + '/metrics')).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
}
