import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type Request } from 'express';
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, securityHeaders, webRouter, wsOrigins, wsUrls } from './web.js';

const req = (hostname: string | undefined, protocol = 'http') => ({ hostname, protocol }) as unknown as Request;

describe('wsUrls', () => {
  it('uses PUBLIC_WS_URL as a comma-separated list, in order, trimmed', () => {
    expect(wsUrls({ PUBLIC_WS_URL: ' wss://a/ws ,wss://b/ws,, /ws ' }, req('ignored'))).toEqual(['wss://a/ws', 'wss://b/ws', '/ws']);
  });

  it('derives ws://<host>:8080/ws from the request when it is empty', () => {
    expect(wsUrls({ PUBLIC_WS_URL: '' }, req('chat.example.com'))).toEqual(['ws://chat.example.com:8080/ws']);
    expect(wsUrls({ PUBLIC_WS_URL: '' }, req('[::1]'))).toEqual(['ws://[::1]:8080/ws']);
  });

  it('uses wss:// behind https (req.protocol honours X-Forwarded-Proto only with TRUST_PROXY)', () => {
    expect(wsUrls({ PUBLIC_WS_URL: '' }, req('chat.example.com', 'https'))).toEqual(['wss://chat.example.com:8080/ws']);
  });

  it('falls back to localhost for a missing or malformed host', () => {
    for (const host of [undefined, '', 'a b', 'x"><script>', 'a/b', '[zz]']) {
      expect(wsUrls({ PUBLIC_WS_URL: '' }, req(host))).toEqual(['ws://localhost:8080/ws']);
    }
  });
});

describe('the CSP connect-src', () => {
  // A real Express app with the real middleware and router, over real HTTP: the CSP a page gets
  // and the /config.json it then reads, for the same Host.
  const serve = async (PUBLIC_WS_URL: string) => {
    const app = express();
    app.set('trust proxy', 1);
    const frontend = mkdtempSync(join(tmpdir(), 'aurora-web-'));
    writeFileSync(join(frontend, 'index.html'), '<!doctype html><title>t</title>');
    const config = { PUBLIC_WS_URL, FRONTEND_DIR: frontend, AWAY_AFTER_SEC: 300 };
    app.use(securityHeaders(config));
    app.use(webRouter(config));
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const port = (server.address() as AddressInfo).port;
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ csp: string; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ csp: String(res.headers['content-security-policy']), body }));
        });
        req.on('error', reject);
        req.end();
      });
    const close = async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(frontend, { recursive: true, force: true });
    };
    return { get, close };
  };

  const directive = (csp: string, name: string) => {
    const found = csp.split(';').map((d) => d.trim().split(/\s+/)).filter(([n]) => n === name);
    expect(found).toHaveLength(1);
    return found[0]!.slice(1);
  };

  /** What a browser connects to for config.json's URLs on a page at `pageUrl`: their origins. */
  const originsOf = (urls: string[], pageUrl: string) =>
    [...new Set(urls.map((u) => new URL(u, pageUrl)).map((u) => `${u.protocol.replace(/^http/, 'ws')}//${u.host}`))].sort();

  const cases: { PUBLIC_WS_URL: string; host: string; headers?: Record<string, string>; page: string; expected: string[] }[] = [
    { PUBLIC_WS_URL: '', host: 'chat.example.com:4000', page: 'http://chat.example.com:4000/', expected: ['ws://chat.example.com:8080'] },
    { PUBLIC_WS_URL: '', host: 'other.example.org', page: 'http://other.example.org/', expected: ['ws://other.example.org:8080'] },
    {
      PUBLIC_WS_URL: '',
      host: 'chat.example.com',
      headers: { 'x-forwarded-proto': 'https' },
      page: 'https://chat.example.com/',
      expected: ['wss://chat.example.com:8080'],
    },
    { PUBLIC_WS_URL: '', host: 'x"><script>', page: 'http://localhost/', expected: ['ws://localhost:8080'] },
    {
      PUBLIC_WS_URL: 'wss://chat-a.example.com/ws, ws://10.0.0.5:8081/ws,wss://chat-a.example.com/other',
      host: 'www.example.com',
      page: 'https://www.example.com/',
      expected: ['wss://chat-a.example.com', 'ws://10.0.0.5:8081'],
    },
    // A path is resolved against the page: its own origin, which 'self' already allows.
    { PUBLIC_WS_URL: '/ws', host: 'www.example.com:8000', page: 'http://www.example.com:8000/', expected: [] },
  ];

  it.each(cases)('lists exactly the origins of /config.json’s URLs, no bare ws:/wss: (PUBLIC_WS_URL=$PUBLIC_WS_URL, Host $host)', async (c) => {
    const s = await serve(c.PUBLIC_WS_URL);
    try {
      const headers = { host: c.host, ...c.headers };
      const page = await s.get('/', headers);
      const config = await s.get('/config.json', headers);
      const sources = directive(page.csp, 'connect-src');
      expect(sources[0]).toBe("'self'");
      expect(sources).not.toContain('ws:');
      expect(sources).not.toContain('wss:');
      const { wsUrls } = JSON.parse(config.body) as { wsUrls: string[] };
      const selfOrigin = originsOf([c.page], c.page)[0];
      const expectedFromConfig = originsOf(wsUrls, c.page).filter((o) => o !== selfOrigin);
      expect(sources.slice(1).sort()).toEqual(expectedFromConfig);
      expect(sources.slice(1).sort()).toEqual([...c.expected].sort());
      // Every other directive unchanged.
      expect(page.csp.replace(/connect-src [^;]*/, 'connect-src X')).toBe(
        "default-src 'self'; connect-src X; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      );
    } finally {
      await s.close();
    }
  });

  it('never lets a configured URL add a directive or a source of its own', () => {
    expect(wsOrigins(['ws://a;b/ws', "wss://x.example/ws 'unsafe-inline'", 'ws://ok.example:1/ws', 'not a url', 'https://h.example/ws'])).toEqual([
      'wss://x.example',
      'ws://ok.example:1',
      'wss://h.example',
    ]);
    expect(contentSecurityPolicy(wsOrigins(['ws://a;script-src *'])).split(';')).toHaveLength(8);
  });
});
