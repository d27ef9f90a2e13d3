// The attachment collector against a real SQLite store and real disk storage: never-sent uploads
// past the orphan TTL and the files of deleted messages go (files first, then rows); recent
// uploads and files of live messages stay; a second pass finds nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { createStore, type Store, type StoredAttachment } from '../shared/store/index.js';
import { msg } from '../shared/store/store.contract.js';
import { ev } from '../shared/store/store.contract-events.js';
import { createFileStorage, type FileStorage } from './files/file-storage.js';
import { collectAttachments } from './files-gc.js';

const log = pino({ level: 'silent' });
let dir: string;
let store: Store;
let storage: FileStorage;
const config = { ATTACHMENT_ORPHAN_TTL_SEC: 3600, PARTITIONS: 1 };
const HOUR = 3600_000;
const now = 1_800_000_000_000;

const id = (n: number) => 'a' + n.toString(16).padStart(24, '0');
async function upload(n: number, createdAt: number, thumb = false): Promise<StoredAttachment> {
  const att: StoredAttachment = {
    id: id(n), name: `f${n}.png`, type: 'image/png', size: 3, room: 'general', ownerId: 'u_sender01',
    storageKey: id(n), createdAt, ...(thumb ? { thumb: true as const, thumbKey: `${id(n)}.thumb`, width: 1, height: 1 } : {}),
  };
  await storage.put(att.storageKey, Readable.from([Buffer.from('abc')]), 'image/png');
  if (att.thumbKey) await storage.put(att.thumbKey, Readable.from([Buffer.from('t')]), 'image/webp');
  await store.saveAttachment(att);
  return att;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aurora-gc-'));
  store = await createStore({ SQLITE_PATH: join(dir, 'aurora.db'), MONGO_URL: undefined }, log);
  storage = await createFileStorage(loadConfig('users', { FILES_DIR: join(dir, 'files') }));
});
afterAll(async () => {
  await store?.close();
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('collectAttachments', () => {
  it('removes old never-sent uploads and the files of deleted messages, keeps the rest', async () => {
    const orphan = await upload(1, now - 2 * HOUR, true);
    const recent = await upload(2, now - HOUR / 2);
    const live = await upload(3, now - 2 * HOUR);
    const deleted = await upload(4, now - 2 * HOUR);
    const liveMsg = { ...msg('general', `${now - 2 * HOUR + 1}-0`), attachments: [{ id: live.id, name: live.name, type: live.type, size: live.size }] };
    const goneMsg = { ...msg('general', `${now - 2 * HOUR + 2}-0`), attachments: [{ id: deleted.id, name: deleted.name, type: deleted.type, size: deleted.size }] };
    await store.insertMessages([liveMsg, goneMsg]);
    await store.applyEvents([ev.del('general', `${now - 2 * HOUR + 3}-0`, goneMsg.id)]);

    expect(await collectAttachments({ config, store, storage, log }, now)).toBe(2);
    expect(await store.getAttachment(orphan.id)).toBeNull();
    expect(await store.getAttachment(deleted.id)).toBeNull();
    expect(await storage.head(orphan.storageKey)).toBeNull();
    expect(await storage.head(orphan.thumbKey!)).toBeNull();
    expect(await storage.head(deleted.storageKey)).toBeNull();
    expect(await store.getAttachment(recent.id)).not.toBeNull();
    expect(await storage.head(live.storageKey)).not.toBeNull();
    expect(await store.getAttachment(live.id)).toMatchObject({ messageId: liveMsg.id });
    expect(await collectAttachments({ config, store, storage, log }, now)).toBe(0);
  });
});
