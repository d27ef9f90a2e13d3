// docs/PROTOCOL.md and docs/REST.md are what client authors implement from: these checks keep
// them true. Every list is derived from the code — the ClientFrame and ErrorCode unions and the
// close-code table parsed from protocol.ts, the frames built by frames.ts's own builders, the
// routes registered in services/users/*.ts, ERROR_STATUS, the config schema's defaults — so a
// frame, field, code, route or default changed in the code without the docs fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as frames from '../../services/chat/frames.js';
import { CloseCode, parseClientFrame } from '../../services/chat/protocol.js';
import { CONFIG_VARIABLES, loadConfig } from '../../services/shared/config.js';
import { MEMBER_ACTIONS, ROOM_ACTIONS } from '../../services/shared/membership.js';
import { EVENT_KINDS, logEntryOf } from '../../services/shared/message.js';
import { ERROR_STATUS } from '../../services/users/errors.js';

const read = (path: string) => readFileSync(path, 'utf8');
const protocolDoc = read('docs/PROTOCOL.md');
const restDoc = read('docs/REST.md');
const protocolSrc = read('services/chat/protocol.ts');
// The wire's types live in the SDK (sdk/src/protocol.d.ts); the server's frames.ts and
// protocol.ts import them.
const wireSrc = read('sdk/src/protocol.d.ts');
const serverFramesSrc = wireSrc.slice(0, wireSrc.indexOf('export type ClientFrame ='));

/** The text under `heading` (a whole line) up to the next heading of the same or a higher level. */
function section(doc: string, heading: string): string {
  const lines = doc.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`no heading ${JSON.stringify(heading)}`);
  const level = heading.indexOf(' ');
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.indexOf(' ') <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** `name` documented in `text`: as `name` in backticks or as "name" in a JSON example. */
const mentions = (text: string, name: string) => text.includes(`\`${name}\``) || text.includes(`"${name}"`);

/** String literals of a `export type Name = 'a' | 'b' …;` union in `src`. */
function literalUnion(src: string, name: string): string[] {
  const start = src.indexOf(`export type ${name} =`);
  if (start < 0) throw new Error(`no union ${name}`);
  const body = src.slice(start, src.indexOf(';', start));
  return [...body.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!);
}

/** ClientFrame members as { type, fields } from the union's source (one member per line). */
function clientFrameMembers(): { type: string; fields: string[] }[] {
  const start = wireSrc.indexOf('export type ClientFrame =');
  const lines = wireSrc.slice(start).split('\n').slice(1);
  const members: { type: string; fields: string[] }[] = [];
  for (const line of lines) {
    const m = /^\s*\|\s*\{(.*)\}\s*;?\s*$/.exec(line);
    if (!m) break;
    const fields = m[1]!.split(';').map((f) => /^\s*(\w+)\??:/.exec(f)?.[1]).filter((f): f is string => Boolean(f));
    const type = /type:\s*'(\w+)'/.exec(m[1]!)?.[1];
    if (type) members.push({ type, fields: fields.filter((f) => f !== 'type') });
  }
  return members;
}

/** Field names of `export interface Name … {` in `src`, up to its closing brace. */
function interfaceFields(src: string, name: string): string[] {
  const start = src.indexOf(`export interface ${name}`);
  if (start < 0) throw new Error(`no interface ${name}`);
  const body = src.slice(src.indexOf('{', start) + 1, src.indexOf('\n}', start));
  return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]!);
}

/** `| \`NAME\` | value |` rows of a doc's "## Limits" table. */
function limitRows(doc: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const m of section(doc, '## Limits').matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \|/gm)) {
    rows.set(m[1]!, m[2]!.trim().split(/\s+/)[0]!.replace(/`/g, ''));
  }
  return rows;
}

const configDefaults = loadConfig('chat', {}) as unknown as Record<string, unknown>;

/** `.ts` sources under services/, tests excluded. */
function serviceSources(dir = 'services'): string[] {
  const here = readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return serviceSources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
  // The SDK's modules hold the wire's limits (MAX_TEXT_CHARS…), shared by the server.
  if (dir !== 'services') return here;
  return [...here, ...readdirSync('sdk/src').filter((f) => f.endsWith('.js')).map((f) => join('sdk/src', f))];
}

/**
 * Every `export const NAME = …` of the services (names the docs may cite) and, for a number,
 * arithmetic on numbers or a string literal, its value — read from the source so a constant
 * that moves to another module stays found.
 */
function sourceConstants(): { names: Set<string>; values: Map<string, string> } {
  const names = new Set<string>();
  const values = new Map<string, string>();
  for (const path of serviceSources()) {
    for (const m of read(path).matchAll(/^export const ([A-Z][A-Z0-9_]+)\b(?: = (.+?);\s*(?:\/\/.*)?$)?/gm)) {
      names.add(m[1]!);
      const rhs = m[2]?.trim() ?? '';
      let value: string | undefined;
      if (/^[\d_ *+\-/()]+$/.test(rhs)) value = String(Number(new Function(`return (${rhs.replace(/_/g, '')});`)()));
      else if (/^'[^']*'$/.test(rhs)) value = rhs.slice(1, -1);
      if (value !== undefined) values.set(m[1]!, values.has(m[1]!) && values.get(m[1]!) !== value ? 'ambiguous' : value);
    }
  }
  return { names, values };
}
const constants = sourceConstants();

function expectLimitsMatchCode(doc: string): void {
  const rows = limitRows(doc);
  expect(rows.size).toBeGreaterThan(0);
  const wrong: string[] = [];
  for (const [name, documented] of rows) {
    const actual = (CONFIG_VARIABLES as string[]).includes(name) ? configDefaults[name] : constants.values.get(name);
    if (actual === undefined) wrong.push(`${name}: neither a config variable nor a constant this test knows`);
    else if (String(actual) !== documented) wrong.push(`${name}: documented ${documented}, code ${String(actual)}`);
  }
  expect(wrong).toEqual([]);
}

function expectOnlyRealNames(doc: string): void {
  const known = new Set<string>([...CONFIG_VARIABLES, ...constants.names]);
  const cited = [...doc.matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`/g)].map((m) => m[1]!);
  expect([...new Set(cited.filter((n) => !known.has(n)))]).toEqual([]);
}

/** Config variables the README table says only `service` reads. */
function readmeVariablesReadOnlyBy(service: string): string[] {
  const rows = read('README.md').split('\n').filter((l) => l.startsWith('| `'));
  return rows.map((l) => l.split('|').map((c) => c.trim())).filter((c) => c[3] === service).map((c) => c[1]!.replace(/`/g, ''));
}

describe('docs/PROTOCOL.md', () => {
  const clientPart = section(protocolDoc, '## Client frames');
  const serverPart = section(protocolDoc, '## Server frames');

  it('documents every client frame type parseClientFrame accepts, with every field of its ClientFrame member', () => {
    const members = clientFrameMembers();
    expect(members.map((m) => m.type)).toContain('react');
    // the union and the parser agree: each member type is accepted, each parser case is a member
    for (const { type } of members) {
      const r = parseClientFrame(JSON.stringify({ type }));
      expect(r.ok ? '' : r.error.message, type).not.toMatch(/unknown frame type/);
    }
    const parserBody = protocolSrc.slice(protocolSrc.indexOf('export function parseClientFrame'));
    const cases = [...parserBody.slice(0, parserBody.indexOf('\n}\n')).matchAll(/case '(\w+)':/g)].map((m) => m[1]!);
    expect([...new Set(cases)].sort()).toEqual(members.map((m) => m.type).sort());
    const missing: string[] = [];
    for (const { type, fields } of members) {
      const body = section(clientPart, `### \`${type}\``);
      for (const f of fields) if (!mentions(body, f)) missing.push(`${type}.${f}`);
    }
    expect(missing).toEqual([]);
  });

  it('documents every ServerFrame type, with every field its builder in frames.ts puts on the wire', () => {
    const user = { id: 'u1', name: 'alice' };
    const tail = (counts: frames.TailCounts) => frames.frameTail(counts, '1700000000001-0', 1700000000001);
    const samples: string[] = [
      frames.helloFrame(user, 'chat-1', 30000),
      frames.pongFrame(1),
      frames.joinedFrame('general', [], [], true, frames.membersJson([user], 1000)),
      frames.leftFrame('general', 'kicked'),
      frames.resyncFrame(),
      frames.ackFrame('c1', '1700000000001-0', 1, true),
      frames.unchangedAckFrame('c1'),
      frames.authedFrame(1),
      frames.errorFrame('rate_limited', 'slow down', 'c1', 100, 'room', 'general'),
      frames.messageFrameHead('general', user, 'hi', 'c1', '1700000000000-0') + tail({ replyCount: 1 }),
      frames.messageFrameHead('general', user, 'hi @bob', 'c1') + tail({ mentions: ['u2', '@room'], seq: 7 }),
      frames.readFrameHead('general', '1700000000000-0') + '"seq":7}',
      frames.receiptFrameHead('general', user, '1700000000000-0') + '"seq":7}',
      frames.notifyFrame({ id: 'n1', kind: 'mention', room: 'general', sourceId: '1-0', actor: user, text: 'hi', ts: 1, read: false }),
      frames.eventFrameHead('general', user, 'c1', { kind: 'edit', target: '1700000000000-0', text: 'hi' }) + tail({}),
      frames.eventFrameHead('general', user, 'c1', { kind: 'delete', target: '1700000000000-0' }) + tail({ replyTo: '1-0', replyCount: 0 }),
      frames.eventFrameHead('general', user, 'c1', { kind: 'react', target: '1700000000000-0', emoji: '👍', on: true }) + tail({ count: 1 }),
      frames.presenceFrame('general', 'join', user),
      frames.typingFrame('general', user, true),
      frames.profileFrame({ ...user, displayName: 'Alice A.', avatar: 'a0123456789abcdef01234567' }),
      frames.profileFrame(user, { deleted: true, messagesRemoved: true }),
      frames.deltaFrame('general', '1700000000000-0', 'the answer so far', 'u2'),
    ];
    const declared = new Set([...serverFramesSrc.matchAll(/type: '(\w+)'/g)].map((m) => m[1]!));
    const sampled = new Set(samples.map((s) => (JSON.parse(s) as { type: string }).type));
    // a new frame type needs a sample here (and a section in the doc)
    expect([...declared].sort()).toEqual([...sampled].sort());
    const missing: string[] = [];
    for (const s of samples) {
      const frame = JSON.parse(s) as Record<string, unknown>;
      const body = section(serverPart, `### \`${String(frame.type)}\``);
      for (const key of Object.keys(frame)) if (!mentions(body, key)) missing.push(`${String(frame.type)}.${key}`);
    }
    // membership and room events: their own section, every field and every action
    const membership = section(serverPart, '### Membership events: `event` with `kind` `member` or `room`');
    const memberSamples = [
      frames.memberFrameHead('general', user, 'muted', user, 'c1') + frames.memberFrameState({ role: 'admin', banned: true, mutedUntil: 5 }) + tail({}),
      frames.roomFrameHead('p:abcdefghijklmnop', user, 'created', 'private', 'c1', { title: 't', topic: 'x' }) + tail({}),
    ];
    for (const s of memberSamples) {
      for (const key of Object.keys(JSON.parse(s) as object)) if (!mentions(membership, key)) missing.push(`membership.${key}`);
    }
    for (const action of [...MEMBER_ACTIONS, ...ROOM_ACTIONS]) if (!mentions(membership, action)) missing.push(`action ${action}`);
    expect(missing).toEqual([]);
  });

  it('documents what a joined entry carries, every event kind and every send limit', () => {
    const joined = section(serverPart, '### `joined`');
    const reply = logEntryOf('general', '1700000000001-0', ['uid', 'u1', 'name', 'a', 'text', 't', 'cid', 'c', 're', '1-0', 'rc', '1']);
    for (const key of [...Object.keys(reply.entry), 'replyCount']) expect(mentions(joined, key), `joined.messages[].${key}`).toBe(true);
    const event = section(serverPart, '### `event`');
    for (const kind of EVENT_KINDS) expect(event, kind).toMatch(new RegExp(`^\\| \`${kind}\` \\|`, 'm'));
    const error = section(serverPart, '### `error`');
    for (const limit of literalUnion(wireSrc, 'SendLimit')) expect(mentions(error, limit), limit).toBe(true);
  });

  it('tables exactly the ErrorCode union', () => {
    const codes = literalUnion(wireSrc, 'ErrorCode');
    expect(codes).toContain('limit_reached');
    const rows = [...section(protocolDoc, '## Error codes').matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]!);
    expect(rows.sort()).toEqual([...codes].sort());
  });

  it('tables exactly the close codes: CloseCode and the ones protocol.ts says ws sends itself', () => {
    const tabled = [...protocolSrc.matchAll(/^ \* \| (\d{4}) \|/gm)].map((m) => Number(m[1]));
    const codes = new Set([...Object.values(CloseCode), ...tabled]);
    expect(codes.has(1007)).toBe(true);
    const rows = [...section(protocolDoc, '## Close codes').matchAll(/^\| (\d{4}) \|/gm)].map((m) => Number(m[1]));
    expect(rows.sort()).toEqual([...codes].sort());
  });

  it('states the limits with the defaults the code has, and every chat-only setting', () => {
    expectLimitsMatchCode(protocolDoc);
    const rows = limitRows(protocolDoc);
    expect(readmeVariablesReadOnlyBy('chat').filter((v) => !rows.has(v))).toEqual([]);
    expectOnlyRealNames(protocolDoc);
  });
});

describe('docs/REST.md', () => {
  const usersSources = readdirSync('services/users')
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => read(join('services/users', f)));
  const headings = [...restDoc.matchAll(/^### `([A-Z]+) (\/\S*)`$/gm)].map((m) => `${m[1]} ${m[2]}`);

  it('has a section for every route the users service registers, and none for a route it does not', () => {
    const routes = new Set<string>();
    for (const src of usersSources) {
      // every method chained on a `.route('…')` (a line that starts with `.get(` …), up to the next route
      const chains = src.split(/(?=\.route\(\s*')/);
      for (const chain of chains) {
        const path = /^\.route\(\s*'([^']+)'/.exec(chain)?.[1];
        if (path) for (const verb of chain.matchAll(/^\s*\.(get|post|put|patch|delete)\(/gm)) routes.add(`${verb[1]!.toUpperCase()} ${path}`);
      }
      for (const m of src.matchAll(/\.(get|post|put|patch|delete)\(\s*'(\/[^']*)'/g)) routes.add(`${m[1]!.toUpperCase()} ${m[2]}`);
    }
    for (const m of read('services/shared/ops.ts').matchAll(/path === '(\/\w+)'/g)) routes.add(`GET ${m[1]}`);
    expect(routes).toContain('GET /api/rooms/:room/messages/:id/replies');
    expect([...routes].filter((r) => !headings.includes(r))).toEqual([]);
    // the static client (express.static) is the one route not found by the patterns above
    expect(headings.filter((h) => !routes.has(h) && h !== 'GET /')).toEqual([]);
  });

  it('documents every top-level key the routes answer with', () => {
    const keys = new Set<string>();
    for (const src of usersSources) {
      for (const m of src.matchAll(/\.json\(\{ (.*) \}\);/g)) {
        // top-level keys only: drop call arguments and nested objects first
        let body = m[1]!;
        for (let prev = ''; prev !== body; ) [prev, body] = [body, body.replace(/\([^()]*\)|\{[^{}]*\}/g, '')];
        for (const k of body.matchAll(/(?:^|, )(\w+)/g)) keys.add(k[1]!);
      }
    }
    for (const k of ['token', 'refreshToken', 'expiresIn']) keys.add(k);
    expect(keys).toContain('replies');
    expect([...keys].filter((k) => !mentions(restDoc, k))).toEqual([]);
  });

  it('documents every field of a HistoryMessage, a reaction and a room', () => {
    const store = read('services/shared/store/store.ts');
    const fields = [
      ...interfaceFields(read('services/shared/message.ts'), 'ChatMessage'),
      ...interfaceFields(store, 'HistoryMessage'),
      ...interfaceFields(store, 'Reaction'),
      ...interfaceFields(store, 'RoomInfo'),
    ];
    expect(fields).toContain('lastReplyAt');
    expect(fields.filter((f) => !mentions(restDoc, f))).toEqual([]);
  });

  it('tables exactly ERROR_STATUS, each code with its status', () => {
    const rows = [...section(restDoc, '## Errors').matchAll(/^\| `(\w+)` \| (\d{3}) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(rows.sort()).toEqual(Object.entries(ERROR_STATUS).map(([c, s]) => `${c} ${s}`).sort());
  });

  it('states the limits with the defaults the code has, and names every users-only setting', () => {
    expectLimitsMatchCode(restDoc);
    const rows = limitRows(restDoc);
    for (const v of ['REST_MAX_PER_USER', 'REST_WINDOW_SEC', 'HISTORY_PAGE_MAX_BYTES']) expect(rows.has(v), v).toBe(true);
    expect(readmeVariablesReadOnlyBy('users').filter((v) => !mentions(restDoc, v))).toEqual([]);
    expectOnlyRealNames(restDoc);
  });
});
