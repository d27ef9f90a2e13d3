// What an operator imports to watch AuroraChat, checked against the code: the Grafana dashboard
// (deploy/grafana/aurorachat-dashboard.json) and the alert rules, shipped twice — the
// PrometheusRule k8s/base/60-alerts.yaml and the plain rule file deploy/prometheus/alerts.yaml,
// identical rule by rule. Every metric a panel or a rule reads is one the services register
// (test/helpers/metrics.ts), every label it groups by is one that metric has, every rule carries
// a severity, a summary and a runbook, and README "Alerts" names exactly these alerts. promtool,
// when installed, checks the rule file's PromQL for real (skipped loudly otherwise).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LABELS, metricOfSeries, registeredMetrics, seriesIn, type RegisteredMetric } from '../helpers/metrics.js';
import { K8S_DIR, ROOT, parseYamlFile, type Obj } from './load.js';

const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'aurorachat-dashboard.json');
const RULES_FILE = join(ROOT, 'deploy', 'prometheus', 'alerts.yaml');
const metrics = registeredMetrics();

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Obj;
const panels: Obj[] = dashboard.panels;
const graphs = panels.filter((p) => p.type !== 'row');
const prometheusRule = (parseYamlFile(join(K8S_DIR, '60-alerts.yaml')) as Obj[]).find((o) => o.kind === 'PrometheusRule')!;
const ruleFile = parseYamlFile(RULES_FILE)[0] as Obj;
const rules: Obj[] = prometheusRule.spec.groups.flatMap((g: Obj) => g.rules);

/**
 * Checks one PromQL expression against the registries: every aurora_* series exists (a histogram's
 * _bucket/_sum/_count only of a histogram), quantiles only over buckets, and every label in a
 * `by (…)` / `without (…)` / selector is one of the metrics it reads (or the registry's defaults).
 */
function checkExpr(expr: string, where: string): RegisteredMetric[] {
  const series = seriesIn(expr);
  expect(series.length, `${where}: reads no aurora_* metric`).toBeGreaterThan(0);
  const read = series.map((s) => {
    const m = metricOfSeries(s, metrics);
    expect(m, `${where}: ${s} is not a metric the services register`).toBeDefined();
    return m!;
  });
  if (/histogram_quantile/.test(expr)) expect(expr, `${where}: a quantile needs the buckets`).toMatch(/_bucket\[/);
  // rate()/increase() of a gauge is meaningless
  for (const m of expr.matchAll(/\b(?:rate|increase|irate)\((aurora_[a-z0-9_]+)/g)) {
    const metric = metricOfSeries(m[1]!, metrics)!;
    expect(metric.type === 'gauge' && m[1] === metric.name, `${where}: rate of the gauge ${m[1]}`).toBe(false);
  }
  const labels = new Set([...DEFAULT_LABELS, 'le', ...read.flatMap((m) => m.labelNames)]);
  const used = [
    ...[...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()).filter(Boolean)),
    ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!)),
  ];
  for (const l of used) expect(labels.has(l), `${where}: label ${l} is on none of ${read.map((m) => m.name).join(', ')}`).toBe(true);
  return read;
}

describe('the Grafana dashboard (deploy/grafana/aurorachat-dashboard.json)', () => {
  it('is an importable dashboard whose panels all query the Prometheus of the ${DS_PROMETHEUS} input', () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    expect(dashboard.uid).toBe('aurorachat');
    expect(typeof dashboard.title).toBe('string');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(30);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size, 'panel ids are unique').toBe(ids.length);
    for (const p of graphs) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.datasource, p.title).toEqual(p.datasource);
      expect(new Set(p.targets.map((t: Obj) => t.refId)).size, `${p.title}: refIds`).toBe(p.targets.length);
      // on the 24-column grid, below its row
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.gridPos.h, p.title).toBeGreaterThan(0);
    }
  });

  it('has the rows an operator needs, and a panel for each thing to watch', () => {
    expect(panels.filter((p) => p.type === 'row').map((p) => p.title)).toEqual(['Chat', 'Ingestion', 'Users (REST)', 'Assistant', 'Redis']);
    const read = new Set(graphs.flatMap((p) => p.targets.flatMap((t: Obj) => seriesIn(t.expr).map((s) => metricOfSeries(s, metrics)?.name))));
    for (const name of [
      'aurora_chat_connections', 'aurora_chat_frames_in_total', 'aurora_chat_frames_out_total', 'aurora_chat_fanout_latency_seconds',
      'aurora_chat_rate_limited_total', 'aurora_chat_slow_consumer_closes_total', 'aurora_chat_error_frames_total',
      'aurora_ingestion_consumer_lag', 'aurora_ingestion_pending', 'aurora_ingestion_stream_length', 'aurora_ingestion_dead_letter_entries',
      'aurora_ingestion_persist_lag_seconds', 'aurora_users_http_requests_total', 'aurora_users_http_request_duration_seconds',
      'aurora_users_auth_events_total', 'aurora_assistant_requests_total', 'aurora_assistant_provider_errors_total',
      'aurora_assistant_tokens_total', 'aurora_chat_redis_used_memory_bytes', 'aurora_chat_redis_maxmemory_bytes',
    ])
      expect(read.has(name), `a panel reads ${name}`).toBe(true);
    // p50 and p99 of the fan-out latency
    const fanout = graphs.find((p) => p.targets.some((t: Obj) => t.expr.includes('aurora_chat_fanout_latency_seconds')))!;
    expect(fanout.targets.map((t: Obj) => /histogram_quantile\((0\.\d+)/.exec(t.expr)?.[1])).toEqual(['0.5', '0.99']);
  });

  it('every panel query reads only metrics and labels the services export', () => {
    for (const p of graphs) for (const t of p.targets) checkExpr(t.expr, `panel "${p.title}" ${t.refId}`);
  });
});

describe('the alert rules (k8s/base/60-alerts.yaml, deploy/prometheus/alerts.yaml)', () => {
  it('the plain rule file holds the PrometheusRule\'s groups, rule by rule', () => {
    expect(Object.keys(ruleFile)).toEqual(['groups']);
    const names = (groups: Obj[]) => groups.map((g) => `${g.name}: ${g.rules.map((r: Obj) => r.alert).join(', ')}`);
    expect(names(ruleFile.groups)).toEqual(names(prometheusRule.spec.groups));
    prometheusRule.spec.groups.forEach((g: Obj, i: number) => {
      g.rules.forEach((r: Obj, j: number) => expect(ruleFile.groups[i].rules[j], `${g.name} ${r.alert}`).toEqual(r));
    });
  });

  it('every rule: a unique name, a severity, a summary, a description and a runbook; `for` in PromQL duration syntax', () => {
    expect(rules.length).toBeGreaterThanOrEqual(8);
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const r of rules) {
      expect(r.alert).toMatch(/^Aurora[A-Z][A-Za-z]+$/);
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
      for (const key of ['summary', 'description', 'runbook']) expect(String(r.annotations?.[key] ?? '').length, `${r.alert}: ${key}`).toBeGreaterThan(20);
      if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smh]$/);
    }
  });

  it('every expression reads only metrics and labels the services export', () => {
    for (const r of rules) checkExpr(r.expr, `alert ${r.alert}`);
  });

  it('README "Alerts" names exactly these alerts, each with its severity', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('\n### Alerts\n');
    expect(start, 'README has a section "### Alerts"').toBeGreaterThan(0);
    const section = readme.slice(start + 1, readme.indexOf('\n#', start + 2));
    const rows = [...section.matchAll(/^\| `(Aurora\w+)` \| (\w+) \|/gm)].map((m) => [m[1], m[2]]);
    expect(rows.map(([name]) => name).sort()).toEqual(rules.map((r) => r.alert).sort());
    for (const [name, severity] of rows) expect(severity, name).toBe(rules.find((r) => r.alert === name)!.labels.severity);
    // no other alert name anywhere in the README
    expect([...new Set(readme.match(/\bAurora[A-Z][a-z]+[A-Z]\w+/g))].filter((n) => !rules.some((r) => r.alert === n))).toEqual([]);
  });

  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
  (promtool ? it : it.skip)(promtool ? 'promtool check rules accepts deploy/prometheus/alerts.yaml' : 'SKIPPED: promtool is not installed — the rule file\'s PromQL was NOT checked by Prometheus itself', () => {
    const run = spawnSync('promtool', ['check', 'rules', RULES_FILE], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});
