// Metric names are part of the ops contract (dashboards, alerts, KEDA and HPA adapters read them):
// every metric the code registers is aurora_<component>_<name> with Prometheus' unit and type
// suffixes, and the docs name only metrics that exist. prom-client's default process_* and
// nodejs_* metrics are the one exception: they keep their standard names.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/shared/config.js';
import { createMetricsRegistry } from '../../services/shared/ops.js';
import { yamlFiles } from '../deploy/load.js';
import { metricOfSeries, registeredMetrics, seriesIn } from '../helpers/metrics.js';

const NAME = /^aurora_(users|chat|ingestion|assistant|notify)_[a-z0-9_]+$/;
const metrics = registeredMetrics();

describe('metric names', () => {
  it('the registries hold every service\'s metrics', () => {
    expect(new Set(metrics.map((m) => m.component))).toEqual(new Set(['users', 'chat', 'ingestion', 'assistant', 'notify']));
    expect(metrics.length).toBeGreaterThan(40);
    const names = metrics.map((m) => m.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i), 'registered twice').toEqual([]);
  });

  it.each(metrics.map((m) => [m.name, m] as const))('%s: aurora_<component>_<name>, named after the component that registers it', (name, m) => {
    expect(name).toMatch(NAME);
    expect(name.startsWith(`aurora_${m.component}_`)).toBe(true);
    expect(name).not.toMatch(/__|_$/);
    expect(m.help.length, 'help text').toBeGreaterThan(10);
  });

  it.each(metrics.map((m) => [m.name, m] as const))('%s: suffixes follow its type and unit', (name, m) => {
    // counters end in _total; nothing else does (a gauge or histogram named _total reads as a counter)
    if (m.type === 'counter') expect(name).toMatch(/_total$/);
    else expect(name).not.toMatch(/_total$/);
    // a unit is the last word (before _total): _seconds, _bytes — never _ms, _millis, _bytes_in
    expect(name).not.toMatch(/_(ms|millis|milliseconds|secs|sec|kb|mb|percent)(_|$)/);
    for (const unit of ['seconds', 'bytes']) if (name.includes(`_${unit}`)) expect(name).toMatch(new RegExp(`_${unit}(_total)?$`));
    // a time is in seconds
    if (/_(latency|duration|time)(_|$)/.test(name)) expect(name).toMatch(/_seconds(_total)?$/);
    // no histogram or summary series suffix in a base name
    expect(name).not.toMatch(/_(bucket|sum|count)$/);
    // label names: snake_case, none that the registry adds itself
    for (const l of m.labelNames) {
      expect(l).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(['service', 'replica', 'le', 'quantile']).not.toContain(l);
    }
  });

  it('a service registry adds only prom-client\'s defaults (process_*, nodejs_*) under other names', () => {
    const registry = createMetricsRegistry(loadConfig('chat', {}));
    const names = registry.getMetricsAsArray().map((m) => m.name);
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((n) => !/^(process|nodejs)_/.test(n))).toEqual([]);
  });

  it('README, ARCHITECTURE.md, docs/, compose and the k8s manifests name only metrics the code registers', () => {
    const files = ['README.md', 'ARCHITECTURE.md', 'docs/REST.md', 'docs/PROTOCOL.md', 'docker-compose.yml', ...yamlFiles().filter((f) => f.includes('/k8s/'))];
    let checked = 0;
    for (const file of files) {
      for (const series of seriesIn(readFileSync(file, 'utf8'))) {
        // a family written as a prefix (`aurora_assistant_*`), or an aurora_ word that is no metric
        // (a database name): a metric has a component prefix or a metric's suffix
        if (series.endsWith('_')) continue;
        if (!NAME.test(series) && !/_(total|seconds|bytes|bucket|count|sum)$/.test(series)) continue;
        expect(metricOfSeries(series, metrics), `${file}: ${series}`).toBeDefined();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });
});
