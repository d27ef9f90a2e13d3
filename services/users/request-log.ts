// One log line and one metric observation per HTTP request, written when the response is
// finished. Labels and log fields are the matched route PATTERN (never the raw path, the query
// string, headers or bodies), so no token, password or user input reaches logs or metrics and
// metric cardinality stays bounded.
import type { RequestHandler } from 'express';
import type { Logger } from '../shared/logger.js';
import { routeOf } from './errors.js';
import type { UsersMetrics } from './metrics.js';

export function requestLog(log: Logger, { requests, requestSeconds: duration }: Pick<UsersMetrics, 'requests' | 'requestSeconds'>): RequestHandler {
  const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      // Static files match no route; group them so each asset path is not its own series.
      let route = routeOf(req);
      if (route === 'unmatched' && res.statusCode < 400 && (req.method === 'GET' || req.method === 'HEAD')) route = 'static';
      const labels = { method: METHODS.has(req.method) ? req.method : 'OTHER', route, status: String(res.statusCode) };
      requests.inc(labels);
      duration.observe(labels, seconds);
      log.info({ ...labels, status: res.statusCode, ms: Math.round(seconds * 10_000) / 10 }, 'request');
    });
    next();
  };
}
