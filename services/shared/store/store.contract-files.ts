// The contract suite's files part (issue 16; store.ts "files"), run against every Store
// implementation by store.test.ts (a fresh store per test): uploads recorded and read back,
// linked to the message that names them in insertMessages (only the author's own, of that
// room, not yet sent), carried by history until the message is deleted, and collected when
// never sent or when their message is gone. Plus, for SQLite, the upgrade of an older file.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Attachment } from '../attachments.js';
import type { ChatMessage } from '../message.js';
import { ev, reply } from './store.contract-events.js';
import { msg } from './store.contract.js';
import type { Store, StoredAttachment } from './store.js';

/** msg()'s author: the owner of the uploads its messages may link. */
const SENDER = 'u_sender01';
const OTHER = 'u_other0001';

/** Upload number n: an image (every optional field) when n is odd, a PDF (none) when even. */
function upload(n: number, over: Partial<StoredAttachment> = {}): StoredAttachment {
  const id = `a${n.toString(16).padStart(24, '0')}`;
  const base: StoredAttachment =
    n % 2 === 1
      ? { id, name: `photo ${n}.png`, type: 'image/png', size: 1000 * n, width: 640, height: 480, thumb: true, room: 'lobby', ownerId: SENDER, storageKey: id, thumbKey: `${id}.thumb`, createdAt: 1000 + n }
      : { id, name: `doc ${n}.pdf`, type: 'application/pdf', size: 1000 * n, room: 'lobby', ownerId: SENDER, storageKey: id, createdAt: 1000 + n };
  return { ...base, ...over };
}

/** What a message shows of an upload (the Attachment part, nothing of where or whose). */
function shown(a: StoredAttachment): Attachment {
  const { id, name, type, size, width, height, thumb } = a;
  return { id, name, type, size, ...(width !== undefined && { width }), ...(height !== undefined && { height }), ...(thumb && { thumb }) };
}

const ids = (list: StoredAttachment[]) => list.map((a) => a.id);

function withFiles(m: ChatMessage, ...uploads: StoredAttachment[]): ChatMessage {
  return { ...m, attachments: uploads.map(shown) };
}

export function filesContract(name: string, factory: () => Promise<Store>, cleanup?: (store: Store) => Promise<void>): void {
  describe(`${name} store contract: files`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      if (cleanup) await cleanup(store);
      else await store.close();
    });

    it('reads an upload back as saved: optional fields absent, never null; unknown ids are null', async () => {
      const image = upload(1);
      const pdf = upload(2);
      await store.saveAttachment(image);
      await store.saveAttachment(pdf);
      // strict: a property set to undefined or null would fail here
      expect(await store.getAttachment(image.id)).toStrictEqual(image);
      expect(await store.getAttachment(pdf.id)).toStrictEqual(pdf);
      expect(Object.keys((await store.getAttachment(pdf.id))!).sort()).toEqual(['createdAt', 'id', 'name', 'ownerId', 'room', 'size', 'storageKey', 'type']);
      expect(await store.getAttachment(upload(3).id)).toBeNull();
    });

    it('saveAttachment is idempotent per id: a second save changes nothing', async () => {
      const a = upload(2);
      await store.saveAttachment(a);
      await store.saveAttachment(a);
      await store.saveAttachment({ ...a, name: 'renamed.pdf', size: 1 });
      expect(await store.getAttachment(a.id)).toStrictEqual(a);
      expect(await store.attachmentBytesOf(SENDER)).toBe(a.size);
    });

    it('insertMessages links each named upload to its message, and history carries the list (top-level and replies)', async () => {
      const [a, b, c] = [upload(1), upload(2), upload(4)];
      for (const u of [a, b, c]) await store.saveAttachment(u);
      const top = withFiles(msg('lobby', '10-0', ''), a, b);
      const plain = msg('lobby', '11-0');
      const answer = withFiles(reply('lobby', '12-0', '10-0'), c);
      expect(await store.insertMessages([top, plain, answer])).toEqual({ inserted: 3, duplicates: 0, conflicts: [] });

      expect(await store.getAttachment(a.id)).toStrictEqual({ ...a, messageId: '10-0' });
      expect(await store.getAttachment(b.id)).toStrictEqual({ ...b, messageId: '10-0' });
      expect(await store.getAttachment(c.id)).toStrictEqual({ ...c, messageId: '12-0' });

      const page = await store.messagesBefore('lobby', undefined, 10);
      expect(page.map((m) => m.id)).toEqual(['10-0', '11-0']);
      expect(page[0]!.attachments).toStrictEqual([shown(a), shown(b)]);
      expect(page[0]!.text).toBe('');
      expect('attachments' in page[1]!).toBe(false);
      expect((await store.messagesAfter('lobby', '9-0', 1))[0]!.attachments).toStrictEqual([shown(a), shown(b)]);
      expect((await store.getMessage('lobby', '10-0'))!.attachments).toStrictEqual([shown(a), shown(b)]);
      expect((await store.repliesAfter('lobby', '10-0', undefined, 10))[0]!.attachments).toStrictEqual([shown(c)]);
      // linked uploads are not collectable, whatever their age
      expect(await store.collectableAttachments(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    });

    it('a message naming an upload of another user, of another room, or already sent does not link it (the message still stores)', async () => {
      const theirs = upload(1, { ownerId: OTHER });
      const elsewhere = upload(2, { room: 'other-room' });
      const sent = upload(3);
      for (const u of [theirs, elsewhere, sent]) await store.saveAttachment(u);
      await store.insertMessages([withFiles(msg('lobby', '10-0'), sent)]);
      const r = await store.insertMessages([withFiles(msg('lobby', '11-0'), theirs, elsewhere, sent)]);
      expect(r).toEqual({ inserted: 1, duplicates: 0, conflicts: [] });
      expect((await store.getMessage('lobby', '11-0'))?.text).toBe('text 11-0');
      expect(await store.getAttachment(theirs.id)).toStrictEqual(theirs);
      expect(await store.getAttachment(elsewhere.id)).toStrictEqual(elsewhere);
      expect((await store.getAttachment(sent.id))?.messageId).toBe('10-0');
      // the two never linked are still collected once old enough
      expect(ids(await store.collectableAttachments(Number.MAX_SAFE_INTEGER, 10))).toEqual([theirs.id, elsewhere.id]);
    });

    it('a redelivered message changes nothing, and a different message under a taken id (a conflict) links nothing', async () => {
      const [a, b] = [upload(1), upload(2)];
      await store.saveAttachment(a);
      await store.saveAttachment(b);
      const m = withFiles(msg('lobby', '10-0'), a);
      await store.insertMessages([m]);
      expect(await store.insertMessages([m])).toEqual({ inserted: 0, duplicates: 1, conflicts: [] });
      const impostor = { ...withFiles(msg('lobby', '10-0'), b), cid: 'another' };
      expect(await store.insertMessages([impostor])).toEqual({ inserted: 0, duplicates: 0, conflicts: [impostor] });
      expect((await store.getAttachment(a.id))?.messageId).toBe('10-0');
      expect(await store.getAttachment(b.id)).toStrictEqual(b);
      expect((await store.messagesBefore('lobby', undefined, 10)).map((h) => h.attachments)).toStrictEqual([[shown(a)]]);
    });

    it('an edit keeps the attachments; a delete leaves a tombstone without them and makes the uploads collectable at once', async () => {
      const [a, b, keep] = [upload(1), upload(2), upload(4)];
      for (const u of [a, b, keep]) await store.saveAttachment(u);
      await store.insertMessages([withFiles(msg('lobby', '10-0'), a, b), withFiles(msg('lobby', '11-0'), keep)]);
      await store.applyEvents([ev.edit('lobby', '12-0', '10-0', 'edited')]);
      expect(await store.getMessage('lobby', '10-0')).toMatchObject({ text: 'edited', editedAt: 12, attachments: [shown(a), shown(b)] });

      await store.applyEvents([ev.del('lobby', '13-0', '10-0')]);
      const tomb = (await store.getMessage('lobby', '10-0'))!;
      expect(tomb).toMatchObject({ text: '', deleted: true });
      expect('attachments' in tomb).toBe(false);
      expect('attachments' in (await store.messagesBefore('lobby', undefined, 10))[0]!).toBe(false);
      // collectable although created after the cutoff: their message is gone
      expect(ids(await store.collectableAttachments(0, 10))).toEqual([a.id, b.id]);
      // a later edit (arriving late) neither revives the message nor its files
      await store.applyEvents([ev.edit('lobby', '11-5', '10-0', 'late edit')]);
      expect('attachments' in (await store.getMessage('lobby', '10-0'))!).toBe(false);
      expect(ids(await store.collectableAttachments(0, 10))).toEqual([a.id, b.id]);
    });

    it('a delete applied before its message is stored (out-of-order batch) still makes the uploads collectable', async () => {
      const a = upload(1);
      await store.saveAttachment(a);
      await store.applyEvents([ev.del('lobby', '13-0', '10-0')]);
      expect(await store.collectableAttachments(0, 10)).toEqual([]);
      await store.insertMessages([withFiles(msg('lobby', '10-0'), a)]);
      expect((await store.getAttachment(a.id))?.messageId).toBe('10-0');
      expect(ids(await store.collectableAttachments(0, 10))).toEqual([a.id]);
      expect('attachments' in (await store.getMessage('lobby', '10-0'))!).toBe(false);
    });

    it('collectableAttachments: never-sent uploads created before the cutoff and uploads of deleted messages, oldest first, at most limit', async () => {
      const unsent = [upload(1, { createdAt: 300 }), upload(2, { createdAt: 100 }), upload(3, { createdAt: 200 }), upload(4, { createdAt: 500 })];
      const live = upload(5, { createdAt: 50 });
      const gone = upload(6, { createdAt: 400 });
      for (const u of [...unsent, live, gone]) await store.saveAttachment(u);
      await store.insertMessages([withFiles(msg('lobby', '10-0'), live), withFiles(msg('lobby', '11-0'), gone)]);
      await store.applyEvents([ev.del('lobby', '12-0', '11-0')]);
      // created strictly before 300; the gone one whatever its age; never the live one
      expect(ids(await store.collectableAttachments(300, 10))).toEqual([upload(2).id, upload(3).id, gone.id]);
      expect(ids(await store.collectableAttachments(1000, 10))).toEqual([upload(2).id, upload(3).id, upload(1).id, gone.id, upload(4).id]);
      expect(ids(await store.collectableAttachments(1000, 2))).toEqual([upload(2).id, upload(3).id]);
      expect(await store.collectableAttachments(1000, 0)).toEqual([]);
      expect(ids(await store.collectableAttachments(0, 10))).toEqual([gone.id]);
      // what it returns is the whole record, for the caller to delete the files
      expect((await store.collectableAttachments(0, 10))[0]).toStrictEqual({ ...gone, messageId: '11-0' });
    });

    it('attachmentBytesOf sums the owner’s kept uploads, sent or not; deleteAttachments forgets them (unknown ids are fine)', async () => {
      const mine = [upload(1), upload(2), upload(3)];
      const theirs = upload(4, { ownerId: OTHER });
      for (const u of [...mine, theirs]) await store.saveAttachment(u);
      await store.insertMessages([withFiles(msg('lobby', '10-0'), upload(1))]);
      expect(await store.attachmentBytesOf(SENDER)).toBe(1000 + 2000 + 3000);
      expect(await store.attachmentBytesOf(OTHER)).toBe(4000);
      expect(await store.attachmentBytesOf('u_nobody0001')).toBe(0);

      await store.deleteAttachments([upload(1).id, upload(3).id, upload(9).id]);
      await store.deleteAttachments([]);
      expect(await store.getAttachment(upload(1).id)).toBeNull();
      expect(await store.getAttachment(upload(3).id)).toBeNull();
      expect(await store.getAttachment(upload(2).id)).toStrictEqual(upload(2));
      expect(await store.attachmentBytesOf(SENDER)).toBe(2000);
      expect(ids(await store.collectableAttachments(Number.MAX_SAFE_INTEGER, 10))).toEqual([upload(2).id, theirs.id]);
      // the message keeps showing its list: the route answers 404 for a file that is gone
      expect((await store.getMessage('lobby', '10-0'))!.attachments).toStrictEqual([shown(upload(1))]);
    });
  });
}

/**
 * SQLite only: a file written before attachments (no attachments table, no messages column)
 * opens, keeps its messages, and takes uploads and messages with files from then on.
 */
export function sqliteFilesUpgrade(open: (path: string) => Promise<Store>, freshPath: () => string): void {
  it('upgrades a file of the schema before attachments: old messages read without files, new ones link', async () => {
    const path = freshPath();
    mkdirSync(dirname(path), { recursive: true });
    await (await open(path)).close();
    const raw = new Database(path);
    // back to exactly the schema before attachments (unversioned, as files of that era: user_version 0)
    raw.exec(`PRAGMA user_version = 0; DROP TRIGGER attachments_gone_on_insert; DROP TRIGGER attachments_gone_on_update; DROP TABLE attachments;
      ALTER TABLE messages DROP COLUMN attachments;`);
    raw.prepare("INSERT INTO messages (room, ms, seq, id, user_id, user_name, text, ts, cid) VALUES ('lobby', 5, 0, '5-0', ?, 'sender', 'old', 5, 'c5')").run(SENDER);
    raw.close();

    const store = await open(path);
    expect(await store.messagesBefore('lobby', undefined, 10)).toStrictEqual([{ id: '5-0', room: 'lobby', user: { id: SENDER, name: 'sender' }, text: 'old', ts: 5, cid: 'c5' }]);
    const a = upload(1);
    await store.saveAttachment(a);
    await store.insertMessages([withFiles(msg('lobby', '10-0'), a)]);
    expect((await store.getMessage('lobby', '10-0'))!.attachments).toStrictEqual([shown(a)]);
    await store.applyEvents([ev.del('lobby', '11-0', '10-0')]);
    expect(ids(await store.collectableAttachments(0, 10))).toEqual([a.id]);
    await store.close();
    // opening it again is a no-op that keeps everything
    const again = await open(path);
    expect((await again.getAttachment(a.id))?.messageId).toBe('10-0');
    expect(await again.attachmentBytesOf(SENDER)).toBe(a.size);
    await again.close();
  });
}
