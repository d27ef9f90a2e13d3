// The page around a message (search-routes.ts aroundPage) against a real SQLite store: its
// shape at the room's ends, a reply centred on its parent, and the byte cap, which drops the
// messages farthest from the centre and says so. The REST routes themselves run end to end in
// test/e2e/search.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../shared/message.js';
import { openSqliteStore } from '../shared/store/store-sqlite.js';
import type { Store } from '../shared/store/store.js';
import { ApiError } from './errors.js';
import { aroundPage, searchCursor } from './search-routes.js';

const dir = mkdtempSync(join(tmpdir(), 'aurora-around-'));
let store: Store;
const room = 'lobby';
const id = (i: number) => `${1000 + i}-0`;
const line = (i: number, text = `line ${i}`): ChatMessage => ({ id: id(i), room, user: { id: 'u_writer01', name: 'writer' }, text, ts: 1000 + i, cid: `c${i}` });
const texts = (p: { messages: { text: string }[] }) => p.messages.map((m) => m.text);

beforeAll(async () => {
  store = await openSqliteStore(join(dir, 'aurora.db'), pino({ level: 'silent' }));
  const lines = Array.from({ length: 20 }, (_, i) => line(i, i === 10 ? 'x'.repeat(2000) : `line ${i}`));
  await store.insertMessages([...lines, { ...line(30, 'a reply'), id: '1010-1', replyTo: id(10) }]);
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('aroundPage', () => {
  it('holds floor(limit/2) messages before the centre and the rest after, shorter at the room\'s ends', async () => {
    expect(texts(await aroundPage(store, room, id(5), 5, 'u_reader01'))).toEqual(['line 3', 'line 4', 'line 5', 'line 6', 'line 7']);
    expect(await aroundPage(store, room, id(1), 6, 'u_reader01')).toMatchObject({ hasOlder: false, hasNewer: true });
    expect(texts(await aroundPage(store, room, id(1), 6, 'u_reader01'))).toEqual(['line 0', 'line 1', 'line 2', 'line 3']);
    const end = await aroundPage(store, room, id(19), 4, 'u_reader01');
    expect(texts(end)).toEqual(['line 17', 'line 18', 'line 19']);
    expect(end).toMatchObject({ hasOlder: true, hasNewer: false });
    const one = await aroundPage(store, room, id(5), 1, 'u_reader01');
    expect(one).toMatchObject({ hasOlder: true, hasNewer: true });
    expect(texts(one)).toEqual(['line 5']);
  });

  it('centres a reply on its parent, and refuses an unknown id with 404', async () => {
    const page = await aroundPage(store, room, '1010-1', 3, 'u_reader01');
    expect(page.messages.map((m) => m.id)).toEqual([id(9), id(10), id(11)]);
    await expect(aroundPage(store, room, '1-0', 3, 'u_reader01')).rejects.toMatchObject(new ApiError('not_found', 'no such message in this room'));
  });

  it('under a byte cap drops the messages farthest from the centre first, never the centre, and says more exist', async () => {
    const whole = await aroundPage(store, room, id(5), 9, 'u_reader01');
    expect(whole).toMatchObject({ hasOlder: true, hasNewer: true });
    const bytes = Buffer.byteLength(JSON.stringify(whole));
    const cut = await aroundPage(store, room, id(5), 9, 'u_reader01', bytes - 100);
    expect(texts(whole)).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8', 'line 9']);
    // one message less is enough: the oldest goes (the older side first on a tie)
    expect(texts(cut)).toEqual(['line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8', 'line 9']);
    const cut2 = await aroundPage(store, room, id(5), 9, 'u_reader01', bytes - 150);
    expect(texts(cut2)).toEqual(['line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8']);
    expect(Buffer.byteLength(JSON.stringify(cut))).toBeLessThanOrEqual(bytes - 100);
    // the long centre alone is over the cap: it is still there, alone
    const tiny = await aroundPage(store, room, id(10), 9, 'u_reader01', 100);
    expect(tiny.messages.map((m) => m.id)).toEqual([id(10)]);
    expect(tiny).toMatchObject({ hasOlder: true, hasNewer: true });
    // at the room's start, a cut on the newer side only sets hasNewer
    const start = await aroundPage(store, room, id(0), 5, 'u_reader01', 200);
    expect(start.messages[0]!.id).toBe(id(0));
    expect(start.hasOlder).toBe(false);
  });
});

describe('searchCursor', () => {
  it('is opaque url-safe text', () => {
    expect(searchCursor(20)).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(searchCursor(20)).not.toBe(searchCursor(40));
  });
});
