// Every bad input gets a JSON error with a stable code and the right status — never an HTML
// page, a stack trace or a 500.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { errorCode, startUsers, type UsersHarness } from './harness.js';

let h: UsersHarness;
let token: string;

beforeAll(async () => {
  h = await startUsers();
  await h.register('validator');
  token = (await h.login('validator')).token;
});
afterAll(async () => {
  await h?.stop();
});

const pw = 'good-password';

describe('POST /api/auth/register rejects bad input', () => {
  const cases: [name: string, body: unknown, status: number, code: string, headers?: Record<string, string>][] = [
    ['malformed JSON', '{"username":"abc",', 400, 'invalid_json'],
    ['a JSON string body', '"abc"', 400, 'invalid_body'],
    ['a JSON number body', '42', 400, 'invalid_body'],
    ['a JSON null body', 'null', 400, 'invalid_body'],
    ['a JSON array body', '[{"username":"abc","password":"good-password"}]', 400, 'invalid_body'],
    ['an empty body', '', 400, 'invalid_username'],
    ['a missing username', { password: pw }, 400, 'invalid_username'],
    ['a missing password', { username: 'someone' }, 400, 'invalid_password'],
    ['a numeric username', { username: 12345, password: pw }, 400, 'invalid_username'],
    ['an array username', { username: ['someone'], password: pw }, 400, 'invalid_username'],
    ['an object username', { username: { $gt: '' }, password: pw }, 400, 'invalid_username'],
    ['a numeric password', { username: 'someone', password: 12345678 }, 400, 'invalid_password'],
    ['a null password', { username: 'someone', password: null }, 400, 'invalid_password'],
    ['a 2-character username', { username: 'ab', password: pw }, 400, 'invalid_username'],
    ['a 33-character username', { username: 'a'.repeat(33), password: pw }, 400, 'invalid_username'],
    ['a username with a space', { username: 'some one', password: pw }, 400, 'invalid_username'],
    ['a username with a slash', { username: 'some/one', password: pw }, 400, 'invalid_username'],
    ['a username with a colon', { username: 'dm:one', password: pw }, 400, 'invalid_username'],
    ['a non-ASCII username', { username: 'åsa_b', password: pw }, 400, 'invalid_username'],
    ['a 7-character password', { username: 'someone', password: '1234567' }, 400, 'invalid_password'],
    ['a 129-character password', { username: 'someone', password: 'p'.repeat(129) }, 400, 'invalid_password'],
    ['a body over 16 KiB', { username: 'someone', password: pw, pad: 'x'.repeat(20_000) }, 413, 'payload_too_large'],
    ['a form-encoded body', 'username=someone&password=good-password', 415, 'unsupported_media_type', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['a text/plain body', '{"username":"someone","password":"good-password"}', 415, 'unsupported_media_type', { 'content-type': 'text/plain' }],
  ];
  for (const [name, body, status, code, headers] of cases) {
    it(`${name} -> ${status} ${code}`, async () => {
      const res = await h.call('POST', '/api/auth/register', { body, headers });
      expect(res.status).toBe(status);
      expect(errorCode(res)).toBe(code);
    });
  }

  it('a request without any body or content type -> 400 invalid_body', async () => {
    const res = await h.call('POST', '/api/auth/register');
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('invalid_body');
  });

  it('accepts the boundary lengths: 3- and 32-character usernames, 8- and 128-character passwords', async () => {
    for (const [username, password] of [
      ['a.b', 'p'.repeat(8)],
      ['Z'.repeat(32), 'p'.repeat(128)],
      ['under_score-dash.dot', 'ünïcødé pässwörd'],
    ] as const) {
      const res = await h.call('POST', '/api/auth/register', { body: { username, password } });
      expect(res.status, username).toBe(201);
    }
  });

  it('ignores fields it does not know (and never lets them through)', async () => {
    const res = await h.call('POST', '/api/auth/register', {
      body: { username: 'extra_fields', password: pw, id: 'chosen-id', passwordHash: 'x', isAdmin: true },
    });
    expect(res.status).toBe(201);
    expect(res.json.user.id).not.toBe('chosen-id');
    expect(Object.keys(res.json.user).sort()).toEqual(['id', 'username']);
  });
});

describe('login, refresh and logout reject bad input', () => {
  it('login: malformed JSON, missing and wrongly typed fields', async () => {
    const cases: [unknown, number, string][] = [
      ['{"username":', 400, 'invalid_json'],
      [[], 400, 'invalid_body'],
      [{ password: pw }, 400, 'invalid_username'],
      [{ username: 'validator' }, 400, 'invalid_password'],
      [{ username: 'validator', password: true }, 400, 'invalid_password'],
      [{ username: 'x'.repeat(100), password: pw }, 400, 'invalid_username'],
      [{ username: 'validator', password: 'p'.repeat(10_000) }, 400, 'invalid_password'],
    ];
    for (const [body, status, code] of cases) {
      const res = await h.call('POST', '/api/auth/login', { body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(errorCode(res)).toBe(code);
    }
  });

  for (const path of ['/api/auth/refresh', '/api/auth/logout']) {
    it(`${path}: malformed JSON, missing, empty or non-string refreshToken`, async () => {
      const cases: [unknown, number, string][] = [
        ['{', 400, 'invalid_json'],
        ['"token"', 400, 'invalid_body'],
        [{}, 400, 'invalid_field'],
        [{ refreshToken: '' }, 400, 'invalid_field'],
        [{ refreshToken: 123 }, 400, 'invalid_field'],
        [{ refreshToken: ['a'] }, 400, 'invalid_field'],
        [{ refreshToken: 'x'.repeat(1000) }, 400, 'invalid_field'],
      ];
      for (const [body, status, code] of cases) {
        const res = await h.call('POST', path, { body });
        expect(res.status, JSON.stringify(body)).toBe(status);
        expect(errorCode(res)).toBe(code);
      }
    });
  }
});

describe('query and path parameters', () => {
  it('user search needs a query of 1–32 characters, given once', async () => {
    for (const q of ['', '?query=', `?query=${'a'.repeat(33)}`, '?query=a&query=b', '?q=val']) {
      const res = await h.call('GET', `/api/users${q}`, { token });
      expect(res.status, q).toBe(400);
      expect(['invalid_query', 'invalid_field']).toContain(errorCode(res));
    }
  });

  it('history rejects invalid room names with 400 invalid_room', async () => {
    for (const room of ['General', 'has%20space', '-leading', 'a'.repeat(65), 'dm%3Azzz%3Aaaa', 'dm%3Asame%3Asame', 'dm%3Aonly', '%F0%9F%92%AC']) {
      const res = await h.call('GET', `/api/rooms/${room}/messages`, { token });
      expect(res.status, room).toBe(400);
      expect(errorCode(res)).toBe('invalid_room');
    }
  });

  it('history rejects a `before` that is not a message id with 400 invalid_id', async () => {
    for (const before of ['abc', '1-', '-1', '1.5-0', '1-0-0', '1700000000000', '17000000000000000-0', '1700000000000-1234567890123456789', '1700000000000-9999999999999999999', '1700000000000-9007199254740992', '9007199254740992-0', '1700000000000-99999999999999999999']) {
      const res = await h.call('GET', `/api/rooms/general/messages?before=${encodeURIComponent(before)}`, { token });
      expect(res.status, before).toBe(400);
      expect(errorCode(res)).toBe('invalid_id');
    }
  });

  it('history rejects a limit that is not a positive integer with 400 invalid_limit', async () => {
    for (const limit of ['0', '-1', 'abc', '1.5', '1e3', '']) {
      const res = await h.call('GET', `/api/rooms/general/messages?limit=${limit}`, { token });
      expect(res.status, limit).toBe(400);
      expect(errorCode(res)).toBe('invalid_limit');
    }
  });

  it('a malformed percent-encoding in the path is 400 JSON, not a crash', async () => {
    const res = await h.call('GET', '/api/rooms/%E0%A4%A/messages', { token });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('bad_request');
  });
});

describe('unknown routes and wrong methods', () => {
  it('unknown paths are 404 JSON', async () => {
    for (const [method, path] of [
      ['GET', '/api/nope'],
      ['POST', '/api/nope'],
      ['GET', '/api/auth'],
      ['GET', '/nope.html'],
      ['DELETE', '/api/rooms/general/history'],
      ['GET', '/api/rooms/general/messages/extra'],
    ]) {
      const res = await h.call(method!, path!, { token });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(errorCode(res)).toBe('not_found');
    }
  });

  it('a known path with the wrong method is 405 JSON with an Allow header', async () => {
    for (const [method, path, allow] of [
      ['GET', '/api/auth/login', 'POST'],
      ['GET', '/api/auth/register', 'POST'],
      ['PUT', '/api/auth/refresh', 'POST'],
      ['DELETE', '/api/auth/logout', 'POST'],
      ['POST', '/api/me', 'GET, HEAD, PATCH, DELETE'],
      ['PUT', '/api/rooms', 'GET, HEAD, POST'],
      ['DELETE', '/api/rooms/general', 'GET, HEAD, PATCH'],
      ['PATCH', '/api/users', 'GET, HEAD'],
      ['DELETE', '/api/rooms/general/messages', 'GET, HEAD, POST'],
    ]) {
      const res = await h.call(method!, path!, { token });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(errorCode(res)).toBe('method_not_allowed');
      expect(res.headers.get('allow')).toBe(allow);
    }
  });
});

describe('a failing store', () => {
  it('turns into a JSON 500 internal without detail, logged at error level without the request body', async () => {
    // Hold SQLite's write lock from this process until the service's busy timeout gives up.
    const db = new Database(h.sqlitePath, { timeout: 100 });
    db.exec('BEGIN EXCLUSIVE');
    let res;
    try {
      res = await h.call('POST', '/api/auth/register', { body: { username: 'blocked_user', password: 'blocked-password-123' } });
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ error: { code: 'internal', message: 'internal error' } });
    // The log line travels through a pipe: wait for it.
    const errors = await waitFor(() => {
      const lines = h.svc.logs.filter((l) => l.includes('"level":50'));
      return lines.length > 0 ? lines : null;
    }, { what: 'the error log line' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('/api/auth/register');
    expect(errors[0]).not.toContain('blocked-password-123');
    // Remove it from the set the next test checks for server faults.
    h.responses.splice(h.responses.indexOf(h.responses.find((r) => r.status === 500)!), 1);
    h.svc.logs.splice(h.svc.logs.indexOf(errors[0]!), 1);
    // And the service carries on.
    expect((await h.call('POST', '/api/auth/register', { body: { username: 'blocked_user', password: 'blocked-password-123' } })).status).toBe(201);
  }, 30_000);
});

describe('every error response', () => {
  it('is JSON with only {error:{code,message}}: no HTML, no stack trace', async () => {
    const errors = h.responses.filter((r) => r.status >= 400);
    expect(errors.length).toBeGreaterThan(50);
    for (const r of errors) {
      expect(r.headers.get('content-type'), `${r.method} ${r.path}`).toMatch(/^application\/json/);
      const body = JSON.parse(r.text);
      expect(Object.keys(body)).toEqual(['error']);
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
      expect(r.text).not.toMatch(/<html|<pre|\bat [\w.<>]+ \(|node_modules|Error:/i);
    }
    // Nothing above was a server fault.
    expect(h.responses.filter((r) => r.status >= 500)).toEqual([]);
    expect(h.svc.logs.filter((l) => l.includes('"level":50'))).toEqual([]);
  });
});
