// What the browser loads from the users service: the static client (FRONTEND_DIR, no build
// step), /config.json (where the chat replicas are) and the security headers every response
// carries. The CSP allows only our own scripts and styles, no framing, and connections only to
// ourselves and to the chat origins /config.json hands out (the replicas live on another port
// or host): an injected script cannot open a WebSocket to a host of its choosing to carry data
// off. The chat URLs may be derived from the request's Host, so the header is built per request.
import { resolve } from 'node:path';
import express, { type Request, type RequestHandler, type Router } from 'express';
import type { Config } from '../shared/config.js';

/** The CSP with `connect-src 'self'` plus exactly `connectOrigins` (ws:// / wss:// origins). */
export function contentSecurityPolicy(connectOrigins: readonly string[]): string {
  return [
    "default-src 'self'",
    ["connect-src 'self'", ...connectOrigins].join(' '),
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Port the chat replicas listen on when PUBLIC_WS_URL is not set (their default PORT). */
const DEFAULT_CHAT_PORT = 8080;

/** A serialized ws/wss origin safe to put in a CSP source list (no `;`, `,`, quotes, spaces). */
const WS_ORIGIN_RE = /^wss?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The origins of the chat URLs the browser gets, as CSP sources. A relative URL (`/ws`) is
 * resolved by the browser against the page, ws/wss of the page's own origin: `'self'` covers it
 * (CSP Level 3), so it adds nothing. http(s):// URLs become ws(s):// (what the browser connects
 * to). Anything unparsable is left out: the client could not connect to it either.
 */
export function wsOrigins(urls: readonly string[]): string[] {
  const origins = new Set<string>();
  for (const url of urls) {
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(url)) continue; // relative: the page's own origin
    let origin: string;
    try {
      origin = new URL(url).origin.replace(/^http(s?):/, 'ws$1:');
    } catch {
      continue;
    }
    if (WS_ORIGIN_RE.test(origin)) origins.add(origin);
  }
  return [...origins];
}

export function securityHeaders(config: Pick<Config, 'PUBLIC_WS_URL'>): RequestHandler {
  return (req, res, next) => {
    res.set({
      'Content-Security-Policy': contentSecurityPolicy(wsOrigins(wsUrls(config, req))),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
    next();
  };
}

const HOSTNAME_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?|\[[0-9A-Fa-f:.]+\])$/;

/** The WebSocket URLs handed to the browser, first choice first. */
export function wsUrls(config: Pick<Config, 'PUBLIC_WS_URL'>, req: Request): string[] {
  const configured = config.PUBLIC_WS_URL.split(',').map((s) => s.trim()).filter(Boolean);
  if (configured.length > 0) return configured;
  // Derived from the Host the browser used (X-Forwarded-* only with TRUST_PROXY). A Host
  // header that is not a plain hostname is not echoed back.
  const host = req.hostname && HOSTNAME_RE.test(req.hostname) ? req.hostname : 'localhost';
  const scheme = req.protocol === 'https' ? 'wss' : 'ws';
  return [`${scheme}://${host}:${DEFAULT_CHAT_PORT}/ws`];
}

export function webRouter(config: Pick<Config, 'PUBLIC_WS_URL' | 'FRONTEND_DIR' | 'AWAY_AFTER_SEC'>): Router {
  const router = express.Router();
  router.get('/config.json', (req, res) => {
    res.set('Cache-Control', 'no-store').json({ wsUrls: wsUrls(config, req), awayAfterSec: config.AWAY_AFTER_SEC });
  });
  // A missing or empty FRONTEND_DIR simply serves nothing (404 JSON from the app).
  router.use(
    express.static(resolve(config.FRONTEND_DIR), {
      index: 'index.html',
      dotfiles: 'ignore',
      redirect: false,
      setHeaders(res, path) {
        // The page must pick up a new client at once; assets are revalidated by ETag.
        if (path.endsWith('.html')) res.setHeader('Cache-Control', 'no-cache');
      },
    }),
  );
  return router;
}
