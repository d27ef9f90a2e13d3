// Unit tests of the browser client's pure parts of files and search (issue 16), loaded as they
// are served: attachments carried by messages (gone with a delete, kept by an edit, filled in on
// an ack, kept by the outbox across reloads), sizes, signed links cached until shortly before they
// expire, the upload queue (progress, cancel, refusals with the server's words), snippets cut from
// highlight offsets (surrogate pairs never split), results grouped by room, and the gaps a page
// around an old message leaves in a timeline — and how newer pages close them.
import { beforeAll, describe, expect, it } from 'vitest';

const load = (p: string): Promise<any> => import(new URL(`../../frontend/js/${p}`, import.meta.url).href);

let att: any;
let search: any;
let around: any;
let storeMod: any;
let state: any;

beforeAll(async () => {
  (globalThis as any).document ??= { hidden: false };
  att = await load('attachments.js');
  search = await load('search.js');
  around = await load('history-around.js');
  storeMod = await load('store.js');
  state = await load('message-state.js');
});

const png = { id: 'a' + '1'.repeat(24), name: 'cat.png', type: 'image/png', size: 2048, width: 800, height: 600, thumb: true };
const pdf = { id: 'a' + '2'.repeat(24), name: 'report.pdf', type: 'application/pdf', size: 1_500_000 };
const alice = { id: 'u1', name: 'alice' };

function fresh() {
  const s = storeMod.createStore();
  s.setMe({ id: 'u1', username: 'alice' });
  return s;
}
const msg = (id: string, extra: Record<string, unknown> = {}) => ({ id, room: 'general', user: alice, text: `m ${id}`, ts: Number(id.split('-')[0]), cid: `c-${id}`, ...extra });

describe('attachments.js data', () => {
  it('keeps only well-formed attachments (ids, names, sizes; dimensions only in pairs)', () => {
    const bad = [null, { ...png, id: '../etc/passwd' }, { ...pdf, size: -1 }, { ...pdf, name: 5 }, 'x'];
    expect(att.attachmentsOf({ attachments: [png, ...bad, pdf] })).toEqual([png, pdf]);
    expect(att.attachmentsOf({ attachments: [{ ...png, height: undefined }] })[0]).not.toHaveProperty('width');
    expect(att.attachmentsOf({})).toEqual([]);
    expect(att.attachmentsOf({ attachments: Array(12).fill(pdf) })).toHaveLength(10);
  });

  it('says sizes as people read them and fits thumbnails inside 320 px without upscaling', () => {
    expect(att.humanSize(900)).toBe('900 B');
    expect(att.humanSize(1536)).toBe('1.5 KB');
    expect(att.humanSize(1_500_000)).toBe('1.4 MB');
    expect(att.humanSize(25 * 1024 * 1024)).toBe('25 MB');
    expect(att.thumbSize(png)).toEqual({ width: 320, height: 240 });
    expect(att.thumbSize({ ...png, width: 100, height: 2000 })).toEqual({ width: 16, height: 320 });
    expect(att.thumbSize({ ...png, width: 50, height: 40 })).toEqual({ width: 50, height: 40 });
    expect(att.isPreviewable(png)).toBe(true);
    expect(att.isPreviewable({ ...png, thumb: undefined })).toBe(false);
    expect(att.isPreviewable(pdf)).toBe(false);
    expect(att.typeLabel('application/pdf')).toBe('PDF');
    expect(att.typeLabel('text/plain')).toBe('TEXT');
  });
});

describe('message-state.js with attachments', () => {
  it('a message keeps its files through an edit and loses them with a delete (live or a history tombstone)', () => {
    const m = state.normalizeMessage(msg('10-0', { attachments: [png, pdf] }), 'general', alice);
    expect(state.messageView(m).attachments).toEqual([png, pdf]);
    expect(state.applyEventTo(m, { kind: 'edit', id: '11-0', text: 'new', ts: 11 }, 'u1')).toBe(true);
    expect(state.messageView(m).attachments).toHaveLength(2);
    expect(state.messageView(m, [{ kind: 'delete' }]).attachments).toEqual([]); // my delete, not confirmed yet
    expect(state.applyEventTo(m, { kind: 'delete', id: '12-0' }, 'u1')).toBe(true);
    expect(m.attachments).toEqual([]);
    const tomb = state.normalizeMessage(msg('13-0', { deleted: true, text: '', attachments: [png] }), 'general', alice);
    expect(state.messageView(tomb).attachments).toEqual([]);
  });

  it('my message made from its ack gets the files of the send; its own frame then changes nothing', async () => {
    const { createSender } = await load('sender.js');
    const s = fresh();
    s.applyJoined({ room: 'general', messages: [], events: [], recovered: false, members: [] });
    const sent: any[] = [];
    const socket = { connected: true, send: (f: any) => (sent.push(f), true) };
    const composer = { showError() {}, clearError() {}, setNotice() {} };
    const cooldowns = { remaining: () => 0, start() {}, subscribe() {}, clear() {} };
    const sender = createSender({ store: s, getSocket: () => socket, composerFor: () => composer, cooldowns });
    expect(sender.send('general', '', null, [png, pdf])).toBe(true);
    expect(sent[0]).toMatchObject({ type: 'send', room: 'general', text: '', attachments: [png.id, pdf.id] });
    // A re-send (reconnect) names the same uploads with the same cid.
    const p = s.state.outbox.get(sent[0].cid);
    sender.resend(p);
    expect(sent[1]).toMatchObject({ cid: sent[0].cid, attachments: [png.id, pdf.id] });
    sender.onAck({ type: 'ack', cid: sent[0].cid, id: '20-0', ts: 20 });
    expect(s.view('general', '20-0').attachments).toEqual([png, pdf]);
    const rev = s.state.rooms.get('general').msgs.get('20-0').rev;
    s.applyMessage({ type: 'message', ...msg('20-0', { cid: sent[0].cid, text: '', attachments: [png, pdf] }) });
    expect(s.state.rooms.get('general').msgs.get('20-0').rev).toBe(rev);
    // An upload the server no longer accepts fails the message with words a person can act on.
    expect(sender.send('general', 'again', null, [pdf])).toBe(true);
    expect(sender.onError({ type: 'error', code: 'bad_attachment', message: 'x', ref: sent.at(-1).cid })).toBe(true);
    expect(s.state.outbox.get(sent.at(-1).cid).error).toMatch(/attach it again/);
    sender.stop();
  });

  it('the outbox keeps a message’s files across a reload', async () => {
    const { createOutboxPersistence } = await load('outbox-persist.js');
    const mem = new Map<string, string>();
    const storage = { getItem: (k: string) => mem.get(k) ?? null, setItem: (k: string, v: string) => mem.set(k, v), removeItem: (k: string) => mem.delete(k) };
    const a = fresh();
    const p = a.addPending('general', '', 'c-files', null);
    p.attachments = [png];
    createOutboxPersistence({ store: a, storage }).save();
    const b = fresh();
    expect([...createOutboxPersistence({ store: b, storage }).restore()]).toEqual(['general']);
    expect(b.state.outbox.get('c-files').attachments).toEqual([png]);
  });
});

describe('attachments.js links', () => {
  it('caches a signed link until shortly before it expires, shares one request, refuses foreign URLs', async () => {
    let now = 1_000_000;
    const asked: string[] = [];
    const cache = att.createLinkCache({
      now: () => now,
      fetchLink: async (room: string, id: string, variant: string) => {
        asked.push(`${room}/${id}/${variant}`);
        return { url: `/files/${id}?v=${variant}&n=${asked.length}`, expiresAt: now + 300_000 };
      },
    });
    const [u1, u2] = await Promise.all([cache.get('general', png.id, 'thumb'), cache.get('general', png.id, 'thumb')]);
    expect(u1).toBe(u2);
    expect(asked).toHaveLength(1);
    expect(cache.peek('general', png.id, 'thumb')).toBe(u1);
    now += 250_000; // still 50 s left
    expect(await cache.get('general', png.id, 'thumb')).toBe(u1);
    now += 30_000; // 20 s left: too close
    expect(cache.peek('general', png.id, 'thumb')).toBeNull();
    expect(await cache.get('general', png.id, 'thumb')).not.toBe(u1);
    expect(asked).toHaveLength(2);
    const evil = att.createLinkCache({ fetchLink: async () => ({ url: 'javascript:alert(1)', expiresAt: Date.now() + 1e6 }) });
    await expect(evil.get('general', png.id, 'file')).rejects.toThrow(/unusable/);
  });
});

describe('attachments.js uploads', () => {
  function queue() {
    const runs: any[] = [];
    const changes: string[] = [];
    const uploads = att.createUploads({
      onChange: (room: string) => changes.push(room),
      upload: (room: string, file: any, hooks: any) =>
        new Promise((resolve, reject) => {
          const xhr = { abort: () => reject(Object.assign(new Error('Cancelled.'), { code: 'aborted' })) };
          hooks.onXhr(xhr);
          runs.push({ room, file, hooks, resolve, reject, xhr });
        }),
    });
    return { uploads, runs, changes };
  }
  const file = (name: string, size: number) => ({ name, size });

  it('uploads at most three at a time, reports progress, and lists what is ready per room', async () => {
    const { uploads, runs } = queue();
    const items = ['a', 'b', 'c', 'd'].map((n) => uploads.add('general', file(`${n}.txt`, 100)));
    expect(runs).toHaveLength(3);
    expect(uploads.busy('general')).toBe(4);
    runs[0].hooks.onProgress(40);
    expect(items[0].loaded).toBe(40);
    runs[0].resolve({ attachment: { ...pdf, name: 'a.txt' } });
    await new Promise((r) => setTimeout(r, 0));
    expect(runs).toHaveLength(4); // the fourth started when one finished
    expect(uploads.ready('general').map((a: any) => a.name)).toEqual(['a.txt']);
    expect(uploads.ready('other')).toEqual([]);
    uploads.sent('general');
    expect(uploads.inRoom('general').map((it: any) => it.name)).toEqual(['b.txt', 'c.txt', 'd.txt']);
  });

  it('cancel aborts the upload and removes the file; a refusal stays with the server’s words', async () => {
    const { ApiError } = await load('api.js');
    const { uploads, runs } = queue();
    const a = uploads.add('general', file('big.bin', 10_000));
    const b = uploads.add('general', file('page.exe', 10));
    uploads.remove(a.key);
    await new Promise((r) => setTimeout(r, 0));
    expect(uploads.inRoom('general').map((it: any) => it.key)).toEqual([b.key]);
    runs[1].reject(new ApiError(415, 'unsupported_media_type', 'files of type application/x-msdownload are not accepted'));
    await new Promise((r) => setTimeout(r, 0));
    expect(b.state).toBe('failed');
    expect(b.error.message).toMatch(/not accepted/);
    expect(uploads.busy('general')).toBe(0);
    expect(uploads.ready('general')).toEqual([]);
  });
});

describe('search.js', () => {
  it('cuts a snippet around the first match and marks every match inside it', () => {
    const text = 'The quick brown fox jumps over the lazy dog';
    const s = search.snippet(text, [[16, 19], [4, 9]]);
    expect(s.cutStart).toBe(false);
    expect(s.parts).toEqual([
      { text: 'The ', mark: false },
      { text: 'quick', mark: true },
      { text: ' brown ', mark: false },
      { text: 'fox', mark: true },
      { text: ' jumps over the lazy dog', mark: false },
    ]);
    const long = 'word '.repeat(100) + 'needle ' + 'tail '.repeat(100);
    const at = long.indexOf('needle');
    const cut = search.snippet(long, [[at, at + 6]]);
    expect(cut.cutStart && cut.cutEnd).toBe(true);
    expect(cut.parts.filter((p: any) => p.mark).map((p: any) => p.text)).toEqual(['needle']);
    const shown = cut.parts.map((p: any) => p.text).join('');
    expect(shown.length).toBeLessThanOrEqual(180);
    expect(shown.startsWith('word')).toBe(true); // a whole word in front
    // Offsets are UTF-16: an emoji before the match counts two; a window never splits one.
    const emoji = '😀'.repeat(150) + ' café';
    const e = search.snippet(emoji, [[301, 305]]);
    expect(e.parts.at(-1)).toEqual({ text: 'café', mark: true });
    const joined = e.parts.map((p: any) => p.text).join('');
    expect(/^[\uDC00-\uDFFF]/.test(joined)).toBe(false);
    // Out-of-range and overlapping highlights are clipped and merged, never thrown on.
    expect(search.snippet('abc', [[1, 2], [1, 3], [5, 9], [2, 1]]).parts).toEqual([
      { text: 'a', mark: false },
      { text: 'bc', mark: true },
    ]);
  });

  it('groups results by room in rank order and drops malformed ones', () => {
    const r = (id: string, room: string) => ({ message: { ...msg(id), room }, highlights: [[0, 1]], room: { name: room, kind: 'public' } });
    const results = [r('1-0', 'a'), r('2-0', 'b'), r('3-0', 'a'), { message: { id: 'x' } }].map(search.validResult).filter(Boolean);
    const groups = search.groupByRoom(results);
    expect(groups.map((g: any) => [g.room.name, g.results.map((x: any) => x.message.id)])).toEqual([
      ['a', ['1-0', '3-0']],
      ['b', ['2-0']],
    ]);
  });

  it('pages with the cursor, appends without duplicates, and a newer query wins over a slow older one', async () => {
    const answers = new Map<string, (v: any) => void>();
    const asked: string[] = [];
    const s = search.createSearch({ request: (path: string) => new Promise((res) => (asked.push(path), answers.set(path, res))) });
    const hit = (id: string) => ({ message: msg(id), highlights: [], room: { name: 'general', kind: 'public' } });
    const first = s.run('old');
    const second = s.run('new words');
    answers.get(asked[1]!)!({ results: [hit('5-0'), hit('4-0')], nextCursor: 'c2' });
    await second;
    answers.get(asked[0]!)!({ results: [hit('9-0')] });
    await first;
    expect(s.state.q).toBe('new words');
    expect(s.state.results.map((x: any) => x.message.id)).toEqual(['5-0', '4-0']);
    expect(asked[1]).toBe('/api/search?q=new+words&limit=20');
    const more = s.more();
    expect(asked[2]).toBe('/api/search?q=new+words&limit=20&cursor=c2');
    answers.get(asked[2]!)!({ results: [hit('4-0'), hit('3-0')] });
    await more;
    expect(s.state.results.map((x: any) => x.message.id)).toEqual(['5-0', '4-0', '3-0']);
    expect(s.state.nextCursor).toBeNull();
  });
});

describe('history-around.js gaps', () => {
  const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${from + i}-0`);

  it('a page older than everything held leaves a gap above it unless it reaches what is held', () => {
    const held = ids(100, 120);
    expect([...around.nextGaps(held, new Set(), true, ids(1, 26), { hasOlder: false, hasNewer: true })]).toEqual(['26-0']);
    expect([...around.nextGaps(held, new Set(), true, ids(80, 105), { hasOlder: true, hasNewer: true })]).toEqual([]);
    expect([...around.nextGaps(held, new Set(), true, ids(1, 26), { hasOlder: false, hasNewer: false })]).toEqual([]);
    expect([...around.nextGaps([], new Set(), true, ids(1, 26), { hasOlder: false, hasNewer: true })]).toEqual([]);
  });

  it('a page inside a gap splits it; a page reaching across it closes it', () => {
    const held = [...ids(1, 26), ...ids(100, 120)];
    const gaps = new Set(['26-0']);
    expect([...around.nextGaps(held, gaps, false, ids(50, 60), { hasOlder: true, hasNewer: true })].sort()).toEqual(['26-0', '60-0']);
    // The next page from the gap (around its id): it starts at or before the gap's id.
    expect([...around.nextGaps(held, gaps, false, ids(1, 51), { hasOlder: false, hasNewer: true })]).toEqual(['51-0']);
    expect([...around.nextGaps(held, gaps, false, ids(20, 100), { hasOlder: true, hasNewer: true })]).toEqual([]);
    // Elsewhere in the timeline: the gap is untouched.
    expect([...around.nextGaps(held, gaps, false, ids(105, 110), { hasOlder: true, hasNewer: true })]).toEqual(['26-0']);
  });

  it('the loader puts the page in the timeline, keeps hasMore right and fills the gap page by page', async () => {
    const s = fresh();
    const stored = ids(1, 120).map((id) => msg(id));
    s.applyJoined({ room: 'general', messages: stored.slice(100), events: [], recovered: false, members: [] });
    const asked: string[] = [];
    const request = async (path: string) => {
      asked.push(path);
      const q = new URL(path, 'http://x').searchParams;
      const at = stored.findIndex((m) => m.id === q.get('around'));
      const lo = Math.max(0, at - 5);
      const hi = Math.min(stored.length, at + 6);
      return { messages: stored.slice(lo, hi), hasOlder: lo > 0, hasNewer: hi < stored.length };
    };
    const loader = around.createAroundLoader({ store: s, request, limit: 10 });
    expect(await loader.open('general', '3-0')).toBe(true);
    expect(asked[0]).toBe('/api/rooms/general/messages?around=3-0&limit=10');
    const r = s.state.rooms.get('general');
    expect(r.ids.slice(0, 9)).toEqual(ids(1, 8).concat('101-0'));
    expect(r.hasMore).toBe(false); // the page reached the room's first message
    expect(loader.hasGap('general', '8-0')).toBe(true);
    let pages = 0;
    while (loader.hasGap('general', r.ids.find((id: string) => loader.hasGap('general', id)) ?? '') && pages < 50) {
      const g = r.ids.find((id: string) => loader.hasGap('general', id));
      await loader.loadNewer('general', g);
      pages++;
    }
    expect(r.ids).toEqual(ids(1, 120));
    expect(pages).toBe(19); // 5 newer messages a page from 8 to 101
    // An old server ignores `around` and answers its newest page: nothing is added.
    const old = around.createAroundLoader({ store: fresh(), request: async () => ({ messages: stored.slice(-3), hasMore: true }) });
    expect(await old.open('general', '3-0')).toBe(false);
  });
});
