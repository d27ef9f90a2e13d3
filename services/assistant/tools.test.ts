// The tool registry never throws and feeds every failure back as a result; the built-ins: `time`
// in a zone, and `search_messages` with the ASKER's permissions against a real SQLite store — a
// user never gets hits from a private room they are not in, and a shared room's answer never
// reaches into other rooms.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createStore, type Store } from '../shared/store/index.js';
import { joined, member, membersRoom, roomEvent, alice, bob, carol } from '../shared/store/store.contract-membership.js';
import { say } from '../shared/store/store.contract-search.js';
import { dmRoomName } from '../shared/rooms.js';
import { createDefaultTools, createToolRegistry, timeIn, ToolError, type ToolContext } from './tools.js';

const NOW = Date.UTC(2026, 11, 4, 9, 30, 15, 250); // Friday 4 December 2026, 09:30:15.250 UTC
const ctx = (over: Partial<ToolContext> = {}): ToolContext => ({
  askerId: bob.id, room: 'general', now: () => NOW, signal: new AbortController().signal, ...over,
});
const call = (name: string, args: unknown) => ({ id: 'c1', name, arguments: typeof args === 'string' ? args : JSON.stringify(args) });
const errorOf = (content: string) => (JSON.parse(content) as { error: string }).error;

describe('tool registry', () => {
  const registry = createToolRegistry();
  registry.register({
    name: 'echo', description: 'echoes', timeoutMs: 500,
    schema: z.object({ say: z.string().max(10), times: z.number().int().min(1).default(1) }),
    handler: ({ say: s, times }) => ({ said: s.repeat(times) }),
  });
  registry.register({
    name: 'broken', description: 'fails', timeoutMs: 500, schema: z.object({ safe: z.boolean() }),
    handler: ({ safe }) => {
      throw safe ? new ToolError('that room is archived') : new Error('SQLITE_CORRUPT at /var/lib/aurora/secret.db');
    },
  });
  let sawAbort = false;
  registry.register({
    name: 'slow', description: 'never ends by itself', timeoutMs: 150, schema: z.object({}),
    handler: (_args, c) => new Promise((resolve) => c.signal.addEventListener('abort', () => { sawAbort = true; resolve('too late'); })),
  });

  it('publishes each tool as a JSON-schema function spec, and refuses a second tool of the same name', () => {
    expect(registry.specs().map((s) => s.name)).toEqual(['echo', 'broken', 'slow']);
    expect(registry.specs()[0]).toEqual({
      name: 'echo', description: 'echoes',
      parameters: {
        type: 'object', additionalProperties: false, required: ['say', 'times'],
        properties: { say: { type: 'string', maxLength: 10 }, times: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, default: 1 } },
      },
    });
    expect(() => registry.register({ name: 'echo', description: '', timeoutMs: 1, schema: z.object({}), handler: () => '' })).toThrow(/already/);
  });

  it('runs a call with validated arguments (defaults applied) and returns JSON text', async () => {
    expect(await registry.run(call('echo', { say: 'hi', times: 2 }), ctx())).toEqual({ ok: true, content: '{"said":"hihi"}' });
    expect(await registry.run(call('echo', '{"say":"x"}'), ctx())).toEqual({ ok: true, content: '{"said":"x"}' });
  });

  it('bad JSON, a schema failure, an unknown tool and a handler error are results, never throws; internals stay hidden', async () => {
    const notJson = await registry.run(call('echo', '{"say": "hi"'), ctx());
    expect(notJson.ok).toBe(false);
    expect(errorOf(notJson.content)).toBe('the arguments of echo are not valid JSON');
    const invalid = await registry.run(call('echo', { say: 'far too long to say', times: 0 }), ctx());
    expect(invalid.ok).toBe(false);
    expect(errorOf(invalid.content)).toMatch(/^invalid arguments for echo: say: .*; times: /);
    const unknown = await registry.run(call('rm_rf', {}), ctx());
    expect(errorOf(unknown.content)).toBe('unknown tool "rm_rf"; available: echo, broken, slow');
    expect(await registry.run(call('broken', { safe: true }), ctx())).toEqual({ ok: false, content: '{"error":"that room is archived"}' });
    const hidden = await registry.run(call('broken', { safe: false }), ctx());
    expect(errorOf(hidden.content)).toBe('broken failed');
  });

  it('a tool past its timeout is an error result on time, and its handler sees the abort', async () => {
    sawAbort = false;
    const started = Date.now();
    const r = await registry.run(call('slow', {}), ctx());
    expect(r).toEqual({ ok: false, content: '{"error":"slow timed out after 150 ms"}' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(sawAbort).toBe(true);
  });

  it('a stop while a tool runs ends it at once as cancelled', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 20);
    const r = await registry.run(call('slow', {}), ctx({ signal: stop.signal }));
    expect(errorOf(r.content)).toBe('slow was cancelled');
  });
});

describe('time tool', () => {
  const tools = createDefaultTools({ store: { searchMessages: async () => [] } });

  it('gives ISO time with the zone offset and a human form, UTC by default', async () => {
    expect(timeIn('Europe/Paris', NOW)).toEqual({ timezone: 'Europe/Paris', iso: '2026-12-04T10:30:15.250+01:00', human: 'Friday 4 December 2026, 10:30' });
    expect(timeIn('America/New_York', NOW).iso).toBe('2026-12-04T04:30:15.250-05:00');
    const r = await tools.run(call('time', {}), ctx());
    expect(JSON.parse(r.content)).toEqual({ timezone: 'UTC', iso: '2026-12-04T09:30:15.250Z', human: 'Friday 4 December 2026, 09:30' });
  });

  it('an unknown zone is an error result that says what to use', async () => {
    const r = await tools.run(call('time', { timezone: 'Mars/Olympus' }), ctx());
    expect(r.ok).toBe(false);
    expect(errorOf(r.content)).toMatch(/unknown time zone "Mars\/Olympus": use an IANA name/);
  });
});

describe('search_messages tool (real SQLite store)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aurora-assistant-tools-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  let store: Store;
  const secret = membersRoom('p', 'secretplans');
  const shared = membersRoom('p', 'bobsroom');
  const bobAlice = dmRoomName(alice.id, bob.id);
  beforeEach(async () => {
    store = await createStore({ SQLITE_PATH: join(dir, `t${++n}`, 'aurora.db'), MONGO_URL: undefined }, pino({ level: 'silent' }));
    await store.applyMembershipEvents([
      roomEvent(secret, '1-0', 'created', 'private', { title: 'Secret' }, alice),
      joined(secret, '1-1', alice, 'owner'),
      member(secret, '1-2', 'invited', carol, { role: 'member' }, alice),
      roomEvent(shared, '2-0', 'created', 'private', { title: 'Bob' }, alice),
      joined(shared, '2-1', alice, 'owner'),
      member(shared, '2-2', 'invited', bob, { role: 'member' }, alice),
    ]);
    await store.insertMessages([
      say('general', '10-0', 'the launch date is monday', alice),
      say(secret, '11-0', 'the launch date is secretly friday', alice),
      say(shared, '12-0', 'launch party at the office', alice),
      say(bobAlice, '13-0', 'launch snacks?', alice),
      say('general', '14-0', `launch ${'long '.repeat(100)}`, carol),
    ]);
  });
  afterEach(async () => {
    await store.close();
  });
  const hits = async (args: unknown, over: Partial<ToolContext> = {}) => {
    const r = await createDefaultTools({ store }).run(call('search_messages', args), ctx(over));
    return r.ok ? (JSON.parse(r.content) as { room: string; author: string; text: string; id: string }[]) : errorOf(r.content);
  };

  it('in a private answer, searches every room the ASKER may read and never a private room they are not in', async () => {
    const found = await hits({ query: 'launch' }, { answerPrivate: true });
    expect(Array.isArray(found) && found.map((h) => h.room).sort()).toEqual(['general', 'general', shared, bobAlice].sort());
    expect(JSON.stringify(found)).not.toContain('secretly');
    // asking for the secret room by name does not open it
    expect(await hits({ query: 'launch', room: secret }, { answerPrivate: true })).toEqual([]);
    // carol, who is in it, finds it
    const carols = await hits({ query: 'secretly' }, { askerId: carol.id, answerPrivate: true });
    expect(carols).toEqual([{ room: secret, author: 'alice', text: 'the launch date is secretly friday', id: '11-0' }]);
  });

  it('in a shared room, stays in that room (its members may not read the asker\'s other rooms)', async () => {
    const found = await hits({ query: 'launch' }, { room: 'general' });
    expect(Array.isArray(found) && found.map((h) => [h.room, h.author, h.id]).sort()).toEqual([['general', 'alice', '10-0'], ['general', 'carol', '14-0']]);
    expect(await hits({ query: 'launch', room: shared }, { room: 'general' })).toMatch(/only this room can be searched/);
    // a long message comes back as an excerpt
    const long = Array.isArray(found) ? found.find((h) => h.id === '14-0') : undefined;
    expect(long?.text.length).toBe(301);
    expect(long?.text.endsWith('…')).toBe(true);
  });

  it('an empty query is an argument error, not a search', async () => {
    expect(await hits({ query: '   ' })).toMatch(/^invalid arguments for search_messages: query/);
  });
});
