// The operational endpoints every service serves: /healthz (process alive), /readyz (its
// dependencies answer; 503 with the failing check otherwise) and /metrics (Prometheus).
// Works as a plain node http handler (chat, ingestion) and as Express middleware (users).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from './config.js';

export function createMetricsRegistry(config: Pick<Config, 'service' | 'replicaId'>): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: config.service, replica: config.replicaId });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** A named readiness check: resolves when healthy, throws (or rejects) with the reason. */
export type ReadinessCheck = { name: string; check: () => Promise<unknown> | unknown };

export interface Ops {
  registry: Registry;
  checks: ReadinessCheck[];
  /** Set when the service starts draining: readiness turns red at once. */
  draining?: () => boolean;
}

const CHECK_TIMEOUT_MS = 2000;

export async function readiness(ops: Ops): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  if (ops.draining?.()) return { ready: false, checks: { shutdown: 'draining' } };
  await Promise.all(
    ops.checks.map(async ({ name, check }) => {
      try {
        await Promise.race([
          Promise.resolve().then(check),
          new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS).unref()),
        ]);
        checks[name] = 'ok';
      } catch (err) {
        checks[name] = err instanceof Error ? err.message : String(err);
      }
    }),
  );
  return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
}

/** Serves /healthz, /readyz and /metrics; returns false for any other path. */
export function handleOps(ops: Ops, req: IncomingMessage, res: ServerResponse): boolean {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (path === '/healthz') {
    send(res, 200, 'application/json', '{"status":"ok"}');
    return true;
  }
  if (path === '/readyz') {
    readiness(ops).then(
      (r) => send(res, r.ready ? 200 : 503, 'application/json', JSON.stringify({ status: r.ready ? 'ready' : 'unready', checks: r.checks })),
      () => send(res, 503, 'application/json', '{"status":"unready"}'),
    );
    return true;
  }
  if (path === '/metrics') {
    ops.registry.metrics().then(
      (body) => send(res, 200, ops.registry.contentType, body),
      () => send(res, 500, 'text/plain', 'metrics unavailable'),
    );
    return true;
  }
  return false;
}

/**
 * A server of the ops routes alone (services with no HTTP API of their own: ingestion, the
 * assistant), listening on PORT; `close()` ends its keep-alive connections too.
 */
export async function listenOps(ops: Ops, at: { port: number; host: string }): Promise<{ close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (!handleOps(ops, req, res)) send(res, 404, 'application/json', '{"error":{"code":"not_found","message":"not found"}}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
