// The operational endpoints: /healthz (process alive), /readyz (its dependencies answer; 503 with
// the failing check otherwise) and /metrics (Prometheus). /readyz and /metrics are served on the
// ADMIN_PORT listener only (listenAdmin): the main port is what the Ingress and load balancers
// route, and neither the dependency states nor the metrics are for the public. /healthz answers on
// both (handleLiveness on the main port: what load balancers and the container health check use).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from './config.js';

/**
 * A service's registry. Its own metrics are named aurora_<component>_<name> (the create*Metrics
 * functions; test/docs/metrics-names.test.ts checks every one); prom-client's default process_*
 * and nodejs_* metrics keep their standard names, which every Node dashboard knows.
 */
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

/** Serves /healthz alone (the main port); returns false for any other request. */
export function handleLiveness(req: IncomingMessage, res: ServerResponse): boolean {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (path === '/healthz') {
    send(res, 200, 'application/json', '{"status":"ok"}');
    return true;
  }
  return false;
}

/** Serves /healthz, /readyz and /metrics (the admin port); returns false for any other path. */
export function handleOps(ops: Ops, req: IncomingMessage, res: ServerResponse): boolean {
  if (handleLiveness(req, res)) return true;
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
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

export interface Listener {
  /** The bound port (the asked one, or the one the OS picked for 0). */
  port: number;
  /** Stops listening and ends its keep-alive connections. */
  close(): Promise<void>;
}

/** The admin listener on ADMIN_PORT: /healthz, /readyz, /metrics, 404 JSON for the rest. */
export function listenAdmin(ops: Ops, at: { port: number; host: string }): Promise<Listener> {
  return listen((req, res) => handleOps(ops, req, res), at);
}

/**
 * The main port of a service with no HTTP API of its own (ingestion, the assistant): /healthz
 * alone, so liveness checks that know only PORT keep working.
 */
export function listenLiveness(at: { port: number; host: string }): Promise<Listener> {
  return listen(handleLiveness, at);
}

async function listen(handle: (req: IncomingMessage, res: ServerResponse) => boolean, at: { port: number; host: string }): Promise<Listener> {
  const server = createServer((req, res) => {
    if (!handle(req, res)) send(res, 404, 'application/json', '{"error":{"code":"not_found","message":"not found"}}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Once listening, an accept error (EMFILE) must not take the service down over its ops port:
  // the next connection is accepted again.
  server.on('error', () => {});
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : at.port,
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
