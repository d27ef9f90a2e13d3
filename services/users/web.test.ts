import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { wsUrls } from './web.js';

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
