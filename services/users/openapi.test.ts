// The API description against the real app (createApp with a real redis-server, a SQLite file and
// disk storage, over real HTTP): every route the app registers is in the OpenAPI document and every
// operation there is served; the document is well-formed OpenAPI 3.1 (path parameters declared,
// references resolved, answers for every operation); each operation's auth is what the server
// does without a token; refusals carry codes the operation lists; /api/docs renders all of it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { loadConfig } from '../shared/config.js';
import { createMetricsRegistry } from '../shared/ops.js';
import { closeRedis, createRedis } from '../shared/redis.js';
import { createStore, type Store } from '../shared/store/index.js';
import { API_ROUTES } from './api-routes.js';
import { createApp } from './app.js';
import { createFileStorage, type FileStorage } from './files/file-storage.js';
import { openApiDocument, openApiPath } from './openapi.js';

type Json = Record<string, any>;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
/** Served before or after the routers (ops.ts middleware, express.static): checked over HTTP instead. */
const OUTSIDE_ROUTERS = ['GET /healthz', 'GET /'];

let redisServer: TestRedis;
let dir: string;
let store: Store;
let storage: FileStorage;
let redis: Redis;
let app: Express;
let server: Server;
let base: string;
const doc = openApiDocument() as Json;

beforeAll(async () => {
  redisServer = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-openapi-'));
  mkdirSync(join(dir, 'web'));
  writeFileSync(join(dir, 'web', 'index.html'), '<!doctype html><title>client</title>');
  const config = loadConfig('users', {
    REDIS_URL: redisServer.url,
    SQLITE_PATH: join(dir, 'aurora.db'),
    FILES_DIR: join(dir, 'files'),
    FRONTEND_DIR: join(dir, 'web'),
    BCRYPT_COST: '4',
    JWT_SECRET: 'test-secret-for-openapi-0123456789abcdef',
    LOG_LEVEL: 'silent',
  });
  const log = pino({ level: 'silent' });
  store = await createStore(config, log);
  storage = await createFileStorage(config);
  redis = createRedis(config, log, { role: 'main' });
  ({ app } = await createApp({ config, log, store, redis, registry: createMetricsRegistry(config), storage }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  if (redis) await closeRedis(redis);
  await store?.close();
  await storage?.close();
  await redisServer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `METHOD /express/:path` of every route in the app's router stack (routers mounted at the root). */
function registeredRoutes(stack: any[]): Set<string> {
  const routes = new Set<string>();
  for (const layer of stack) {
    if (layer.route) {
      for (const method of Object.keys(layer.route.methods)) if (method !== '_all') routes.add(`${method.toUpperCase()} ${layer.route.path}`);
    } else if (Array.isArray(layer.handle?.stack)) {
      for (const r of registeredRoutes(layer.handle.stack)) routes.add(r);
    }
  }
  return routes;
}

/** `METHOD /express/:path` of every operation in the document. */
function documentedRoutes(): Set<string> {
  const routes = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of Object.keys(item)) routes.add(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
  }
  return routes;
}

/** Each operation with its OpenAPI path and method. */
const operations = () =>
  Object.entries(doc.paths as Json).flatMap(([path, item]) => Object.entries(item as Json).map(([method, op]) => ({ path, method, op: op as Json })));

/** A path with plausible values in its parameters (`bad`: a value no rule accepts). */
function concrete(path: string, bad: string | null = null): string {
  const sample: Record<string, string> = { room: 'general', userId: 'u_someone1', id: path.includes('attachments') || path.startsWith('/files') || path.startsWith('/avatars') ? 'a' + '0'.repeat(24) : '1700000000000-0' };
  return path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(bad !== null && name === 'room' ? bad : sample[name]!));
}

async function call(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(base + path, {
    method: method.toUpperCase(),
    headers: { ...(opts.body !== undefined && { 'content-type': 'application/json' }), ...(opts.token && { authorization: `Bearer ${opts.token}` }), ...opts.headers },
    ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  let json: Json | undefined;
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

describe('the route table and the app', () => {
  it('documents every route the app registers, and serves every route it documents', async () => {
    const registered = registeredRoutes((app as any).router.stack);
    const documented = documentedRoutes();
    expect(registered).toContain('GET /api/rooms/:room/messages/:id/replies');
    expect([...registered].filter((r) => !documented.has(r)).sort(), 'registered but not documented').toEqual([]);
    expect([...documented].filter((r) => !registered.has(r)).sort(), 'documented but not registered').toEqual([...OUTSIDE_ROUTERS].sort());
    for (const route of OUTSIDE_ROUTERS) {
      const [method, path] = route.split(' ') as [string, string];
      expect((await call(method, path)).status, route).toBe(200);
    }
  });

  it('declares each route once', () => {
    const keys = API_ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });
});

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with info, tags, security schemes and unique operation ids', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toEqual(expect.any(String));
    expect(doc.info.version).toEqual(expect.any(String));
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const tags = new Set((doc.tags as Json[]).map((t) => t.name));
    const ids = operations().map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, method, op } of operations()) {
      expect(METHODS, `${method} ${path}`).toContain(method);
      expect(op.summary, `${method} ${path}`).toMatch(/\S/);
      expect(tags.has(op.tags[0]), `${method} ${path} tag`).toBe(true);
      for (const requirement of op.security as Json[]) for (const scheme of Object.keys(requirement)) expect(doc.components.securitySchemes).toHaveProperty(scheme);
    }
  });

  it('declares every path parameter, as required, and no other', () => {
    for (const { path, method, op } of operations()) {
      const inTemplate = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const declared = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort(), `${method} ${path}`).toEqual(inTemplate);
      for (const p of declared) expect(p.required, `${method} ${path} ${p.name}`).toBe(true);
      for (const p of (op.parameters ?? []) as Json[]) {
        expect(['path', 'query'], `${method} ${path} ${p.name}`).toContain(p.in);
        expect(p.schema, `${method} ${path} ${p.name}`).toBeTypeOf('object');
      }
    }
  });

  it('gives every operation a success answer and its errors with the one envelope, and resolves every $ref', () => {
    for (const { path, method, op } of operations()) {
      const statuses = Object.keys(op.responses);
      expect(statuses.some((s) => /^[23]\d\d$/.test(s)), `${method} ${path}`).toBe(true);
      for (const [status, r] of Object.entries(op.responses as Json)) {
        expect(r.description, `${method} ${path} ${status}`).toMatch(/\S/);
        if (/^[45]\d\d$/.test(status) && r['x-error-codes']) expect(r.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
      }
      if (op.security.length > 0) expect(op.responses['401']['x-error-codes'], `${method} ${path}`).toEqual(expect.arrayContaining(['token_expired', 'unauthorized']));
    }
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of new Set(refs)) {
      expect(ref, ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas, ref).toHaveProperty(ref.slice('#/components/schemas/'.length));
    }
  });

  it('describes request bodies from the schemas the routes validate with', () => {
    const register = doc.paths['/api/auth/register'].post.requestBody.content['application/json'].schema;
    expect(register.required).toEqual(['username', 'password']);
    expect(register.properties.password).toMatchObject({ type: 'string', minLength: 8, maxLength: 128 });
    const mark = doc.paths['/api/me/notifications/read'].post.requestBody.content['application/json'].schema;
    expect(mark.additionalProperties).toBe(false);
    expect(mark.properties.ids).toMatchObject({ type: 'array', minItems: 1, maxItems: 100 });
    expect(doc.paths['/api/rooms'].post.requestBody.content['application/json'].schema.oneOf).toHaveLength(3);
    expect(openApiPath('/api/rooms/:room/members/:userId')).toBe('/api/rooms/{room}/members/{userId}');
  });
});

describe('what the server does matches the document', () => {
  let token: string;
  beforeAll(async () => {
    expect((await call('post', '/api/auth/register', { body: { username: 'doc_reader', password: 'doc-reader-pass' } })).status).toBe(201);
    token = (await call('post', '/api/auth/login', { body: { username: 'doc_reader', password: 'doc-reader-pass' } })).json!.token;
  });

  it('signed-in operations answer 401 without a token; the others do not ask for one', async () => {
    const wrong: string[] = [];
    for (const { path, method, op } of operations()) {
      const res = await call(method, concrete(path));
      const bearer = op.security.length > 0;
      if (bearer !== (res.status === 401)) wrong.push(`${method} ${path}: ${res.status} (documented ${bearer ? 'bearer' : 'none'})`);
    }
    expect(wrong).toEqual([]);
  });

  it('a room no rule accepts is refused with a code the operation lists', async () => {
    const wrong: string[] = [];
    for (const { path, method, op } of operations().filter((o) => o.path.includes('{room}'))) {
      const res = await call(method, concrete(path, 'Not A Room'), { token, body: method === 'get' || method === 'delete' ? undefined : {} });
      const listed = (op.responses[String(res.status)]?.['x-error-codes'] ?? []) as string[];
      if (!listed.includes(res.json?.error?.code)) wrong.push(`${method} ${path}: ${res.status} ${res.json?.error?.code}`);
    }
    expect(wrong).toEqual([]);
  });

  it('a body missing its fields is refused with a code the operation lists', async () => {
    const wrong: string[] = [];
    for (const { path, method, op } of operations().filter((o) => o.op.requestBody?.content['application/json'])) {
      const res = await call(method, concrete(path), { token, body: {} });
      const listed = (op.responses[String(res.status)]?.['x-error-codes'] ?? []) as string[];
      if (!listed.includes(res.json?.error?.code)) wrong.push(`${method} ${path}: ${res.status} ${res.json?.error?.code}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('GET /api/openapi.json and GET /api/docs', () => {
  it('serve the document, public and cacheable, with an ETag that revalidates', async () => {
    const res = await call('get', '/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(res.json).toEqual(doc);
    // (fetch would add `cache-control: no-cache` to a conditional request: a browser's revalidation says max-age=0)
    const again = await call('get', '/api/openapi.json', { headers: { 'if-none-match': res.headers.get('etag')!, 'cache-control': 'max-age=0' } });
    expect(again.status).toBe(304);
    expect((await call('post', '/api/openapi.json')).status).toBe(405);
  });

  it('render every operation, its parameters and its body fields, as escaped HTML without scripts', async () => {
    const res = await call('get', '/api/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.text).not.toMatch(/<script|\sstyle=|\son\w+=/i);
    for (const { path, method, op } of operations()) {
      const section = res.text.slice(res.text.indexOf(`<article id="${op.operationId}">`));
      expect(section.indexOf('<article'), `${method} ${path}`).toBe(0);
      const body = section.slice(0, section.indexOf('</article>'));
      expect(body, `${method} ${path}`).toContain(`<code>${path}</code>`);
      for (const p of (op.parameters ?? []) as Json[]) expect(body, `${method} ${path} ${p.name}`).toContain(`<code>${p.name}</code>`);
      const schema = op.requestBody?.content['application/json']?.schema;
      for (const alt of schema ? (schema.oneOf ?? [schema]) : []) {
        for (const field of Object.keys(alt.properties)) expect(body, `${method} ${path} body ${field}`).toContain(`<code>${field}</code>`);
      }
      for (const status of Object.keys(op.responses)) expect(body, `${method} ${path} ${status}`).toContain(`<td>${status}</td>`);
    }
    // the rules are there in words: the username's pattern, the password's length
    expect(res.text).toContain('<code>^[A-Za-z0-9_.-]{3,32}$</code>');
    expect(res.text).toContain('string; 8–128 characters');
  });
});
