// The users service's Prometheus metrics. HTTP labels are the matched route PATTERN, never the raw
// path (request-log.ts): no user input becomes a label value, and cardinality stays bounded.
import { Counter, Histogram, type Registry } from 'prom-client';

export function createUsersMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'aurora_users_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    requestSeconds: new Histogram({
      name: 'aurora_users_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    authEvents: new Counter({
      name: 'aurora_users_auth_events_total',
      help: 'Authentication events: register, register_throttled, login_ok, login_failed, login_throttled, login_disabled, refresh_ok, refresh_grace, refresh_rejected, refresh_reused, logout',
      labelNames: ['event'] as const,
      registers,
    }),
  };
}

export type UsersMetrics = ReturnType<typeof createUsersMetrics>;
