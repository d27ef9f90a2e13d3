// History pages carry the room's membership and room events (system lines) beside its messages:
// a real users service reads a SQLite file this process seeds the way the ingestion workers
// write it. Paging back by the oldest id of each page must show every message and every event
// exactly once, in id order, whatever the page limit, with more events between two messages
// than one page may hold, and with pages cut by the byte bound.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { membershipFrame } from '../../services/chat/frames.js';
import { compareIds } from '../../services/shared/ids.js';
import type { MembershipLogEntry } from '../../services/shared/membership.js';
import type { ChatMessage } from '../../services/shared/message.js';
import { createStore } from '../../services/shared/store/index.js';
import type { Store } from '../../services/shared/store/store.js';
import { HISTORY_EVENTS_MAX } from '../../services/users/rooms-routes.js';
import { mulberry32 } from '../helpers/prng.js';
import { startUsers, type UsersHarness } from './harness.js';

const PAGE_MAX_BYTES = 16 * 1024;
const BASE = 1_700_000_000_000;
const ROOM = 'timeline';

let h: UsersHarness;
/** A second users replica on the same file with the default byte bound: the event cap cuts there. */
let roomy: UsersHarness;
let store: Store;
let token: string;

type Item = { kind: 'message'; m: ChatMessage } | { kind: 'event'; e: MembershipLogEntry };
const timeline: Item[] = [];

/**
 * The room's log, oldest first: events before the first message, runs of messages and events
 * mixed at random, a run of HISTORY_EVENTS_MAX + 30 events between two messages, topics heavy
 * enough (250 escaped control characters) that the byte bound cuts pages, and events after the
 * last message. Several entries per millisecond with seq 9, 10, 11, so string order is wrong.
 */
function buildTimeline(): void {
  const rand = mulberry32(14);
  let n = 0;
  const nextId = () => {
    const id = `${BASE + Math.floor(n / 12)}-${n % 12}`;
    n++;
    return id;
  };
  const actor = { id: 'mod000000001', name: 'mod' };
  const message = () => {
    const id = nextId();
    timeline.push({ kind: 'message', m: { id, room: ROOM, user: actor, text: `message ${timeline.length}`, ts: BASE, cid: `c${n}` } });
  };
  const event = () => {
    const id = nextId();
    const k = timeline.length;
    const base = { id, room: ROOM, user: actor, ts: Number(id.split('-')[0]), cid: `e${n}` };
    const who = { id: `user${String(k).padStart(8, '0')}`, name: `user${k}` };
    const e: MembershipLogEntry =
      k % 3 === 0
        ? { ...base, kind: 'room', action: 'topic', roomKind: 'public', topic: k % 2 ? '\u0001'.repeat(250) : `topic ${k}` }
        : k % 3 === 1
          ? { ...base, kind: 'member', action: 'invited', member: who, role: 'member' }
          : { ...base, kind: 'member', action: 'muted', member: who, role: 'member', mutedUntil: BASE + 60_000 };
    timeline.push({ kind: 'event', e });
  };
  for (let i = 0; i < 3; i++) event();
  for (let i = 0; i < 180; i++) (rand() < 0.55 ? message : event)();
  message();
  for (let i = 0; i < HISTORY_EVENTS_MAX + 30; i++) event();
  message();
  for (let i = 0; i < 60; i++) (rand() < 0.4 ? message : event)();
  for (let i = 0; i < 4; i++) event();
}

beforeAll(async () => {
  buildTimeline();
  h = await startUsers({ HISTORY_PAGE_MAX_BYTES: String(PAGE_MAX_BYTES), REST_MAX_PER_USER: '100000' });
  roomy = await startUsers({ REST_MAX_PER_USER: '100000', SQLITE_PATH: h.sqlitePath }, { redis: h.redis });
  store = await createStore({ SQLITE_PATH: h.sqlitePath, MONGO_URL: undefined }, pino({ level: 'silent' }));
  await h.register('reader');
  token = (await h.login('reader')).token;
  // shuffled and in batches: the order on a page must come from the ids
  const rand = mulberry32(7);
  const shuffled = [...timeline].sort(() => rand() - 0.5);
  for (let i = 0; i < shuffled.length; i += 97) {
    const batch = shuffled.slice(i, i + 97);
    await store.insertMessages(batch.flatMap((x) => (x.kind === 'message' ? [x.m] : [])));
    await store.applyMembershipEvents(batch.flatMap((x) => (x.kind === 'event' ? [x.e] : [])));
  }
}, 60_000);

afterAll(async () => {
  await store?.close();
  await roomy?.stop();
  await h?.stop();
});

interface Page {
  text: string;
  messages: ChatMessage[];
  events: ({ id: string } & Record<string, unknown>)[];
  hasMore: boolean;
}

/** Pages back from the newest with `limit`, by the oldest id of each page; every page returned. */
async function pageBack(limit: number, users = h): Promise<Page[]> {
  const pages: Page[] = [];
  let before = '';
  for (let i = 0; i < 2000; i++) {
    const res = await users.call('GET', `/api/rooms/${ROOM}/messages?limit=${limit}${before}`, { token });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json)).toEqual(['messages', 'hasMore', 'events']);
    pages.push({ text: res.text, ...res.json });
    if (!res.json.hasMore) return pages;
    const ids = [...res.json.messages, ...res.json.events].map((x: { id: string }) => x.id).sort(compareIds);
    expect(ids.length).toBeGreaterThan(0);
    before = `&before=${ids[0]}`;
  }
  throw new Error('history never ended');
}

/** Every id the pages showed, oldest page first, each page in id order. */
function shown(pages: Page[]): string[] {
  return [...pages]
    .reverse()
    .flatMap((p) => [...p.messages, ...p.events].map((x) => x.id).sort(compareIds));
}

const expectedIds = () => timeline.map((x) => (x.kind === 'message' ? x.m.id : x.e.id));

describe('history pages with membership events', () => {
  it('every message and event exactly once, in id order, whatever the limit; events are their ws frames', async () => {
    const frames = new Map(timeline.flatMap((x) => (x.kind === 'event' ? [[x.e.id, JSON.parse(membershipFrame(x.e))]] : [])));
    for (const [users, maxBytes] of [[h, PAGE_MAX_BYTES], [roomy, 256 * 1024]] as const) {
      for (const limit of [1, 3, 50, 200]) {
        const pages = await pageBack(limit, users);
        expect(shown(pages), `limit ${limit}, ${maxBytes} bytes`).toEqual(expectedIds());
        for (const p of pages) {
          expect(p.messages.length).toBeLessThanOrEqual(limit);
          expect(p.events.length).toBeLessThanOrEqual(HISTORY_EVENTS_MAX);
          expect(Buffer.byteLength(p.text)).toBeLessThanOrEqual(maxBytes);
          for (const e of p.events) expect(e).toEqual(frames.get(e.id));
        }
        expect(pages.at(-1)!.hasMore).toBe(false);
      }
    }
  });

  it('a run of more events than one page holds: the newest HISTORY_EVENTS_MAX, the older messages on the next page', async () => {
    // the default byte bound: only the event cap cuts
    const pages = await pageBack(200, roomy);
    const capped = pages.findIndex((p) => p.events.length === HISTORY_EVENTS_MAX);
    expect(capped).toBeGreaterThanOrEqual(0);
    expect(pages[capped]!.hasMore).toBe(true);
    // no message of the page is older than its oldest event, and the next page starts below it
    const oldestEvent = pages[capped]!.events[0]!.id;
    expect(pages[capped]!.messages.every((m) => compareIds(m.id, oldestEvent) > 0)).toBe(true);
    expect(pages[capped + 1]!.events.length).toBeGreaterThanOrEqual(30);
    // the small byte bound cuts the same run (and the heavy topics) into pages of events only
    const small = await pageBack(200);
    expect(small.filter((p) => p.messages.length === 0 && p.events.length > 0).length).toBeGreaterThan(1);
    expect(Math.max(...small.map((p) => Buffer.byteLength(p.text)))).toBeGreaterThan(PAGE_MAX_BYTES - 2000);
  });

  it('the oldest page holds the events older than every message; a room with events only pages them too', async () => {
    const first = (await pageBack(200)).at(-1)!;
    expect(first.hasMore).toBe(false);
    expect(first.events.slice(0, 3).map((e) => e.id)).toEqual(expectedIds().slice(0, 3));

    const quiet = 'quiet-room';
    const created = { id: `${BASE}-0`, room: quiet, user: { id: 'mod000000001', name: 'mod' }, ts: BASE, cid: 'q1' };
    await store.applyMembershipEvents([
      { ...created, kind: 'room', action: 'created', roomKind: 'public', topic: 'hello' },
      { ...created, id: `${BASE}-1`, cid: 'q2', kind: 'member', action: 'joined', member: created.user, role: 'owner' },
    ]);
    const res = await h.call('GET', `/api/rooms/${quiet}/messages`, { token });
    expect(res.json).toEqual({
      messages: [],
      hasMore: false,
      events: [
        { type: 'event', kind: 'room', room: quiet, user: created.user, action: 'created', roomKind: 'public', topic: 'hello', cid: 'q1', id: `${BASE}-0`, ts: BASE },
        { type: 'event', kind: 'member', room: quiet, user: created.user, action: 'joined', member: created.user, cid: 'q2', role: 'owner', id: `${BASE}-1`, ts: BASE },
      ],
    });
    // a room nobody touched answers as before, with no events
    expect((await h.call('GET', '/api/rooms/untouched/messages', { token })).json).toEqual({ messages: [], hasMore: false, events: [] });
  });
});
