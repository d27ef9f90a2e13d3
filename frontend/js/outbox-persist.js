// Unsent messages are kept across reloads (localStorage) and re-sent with their cid. The server
// remembers a cid for IDEMPOTENCY_TTL_SEC (10 min by default); older ones are shown as failed
// instead, so a retry is the user's choice.
// Every tab of the same user shares one key: each tab read-modify-writes it by cid, replacing
// only the entries it owns (sent or restored by it) and keeping the other tabs' entries.
import { isValidRoom } from './rooms.js';
import { attachmentsOf } from './attachments.js';

const OUTBOX_MAX_AGE_MS = 5 * 60_000;
const FOREIGN_OUTBOX_MAX_AGE_MS = 24 * 60 * 60_000; // a closed tab's leftovers are dropped after this

export function createOutboxPersistence({ store, storage = localStorage }) {
  let ownedCids = new Set();
  const key = () => `aurora.outbox.${store.state.me.id}`;

  function read() {
    try {
      const items = JSON.parse(storage.getItem(key()) || '[]');
      return Array.isArray(items) ? items.filter((it) => it && typeof it.cid === 'string') : [];
    } catch {
      return [];
    }
  }

  return {
    save() {
      if (!store.state.me) return;
      // `attachments`: the uploaded files a re-send names again (their metadata, to show them).
      const mine = [...store.state.outbox.values()].map(({ cid, room, text, replyTo, state, error, createdAt, attachments }) => ({ cid, room, text, replyTo, state, error, createdAt, attachments }));
      const mineCids = new Set(mine.map((it) => it.cid));
      const others = read().filter(
        (it) => !mineCids.has(it.cid) && !ownedCids.has(it.cid) && Date.now() - (Number(it.createdAt) || 0) < FOREIGN_OUTBOX_MAX_AGE_MS,
      );
      ownedCids = mineCids;
      const items = [...others, ...mine];
      if (items.length) storage.setItem(key(), JSON.stringify(items));
      else storage.removeItem(key());
    },
    /** Puts the stored entries back in the outbox; returns the rooms they belong to. */
    restore() {
      ownedCids = new Set();
      const rooms = new Set();
      for (const it of read()) {
        if (!isValidRoom(it.room) || typeof it.text !== 'string') continue;
        const p = store.addPending(it.room, it.text, it.cid, typeof it.replyTo === 'string' ? it.replyTo : null);
        p.createdAt = Number(it.createdAt) || Date.now();
        const files = attachmentsOf(it);
        if (files.length) p.attachments = files;
        if (it.state === 'failed') store.markFailed(it.cid, it.error || 'not delivered');
        else if (Date.now() - p.createdAt > OUTBOX_MAX_AGE_MS) store.markFailed(it.cid, 'not sent before the page was closed');
        // Waiting out a rate limit: it keeps its turn (sender.js sends the queue one at a time).
        else if (it.state === 'queued') store.markQueued(it.cid);
        rooms.add(it.room);
      }
      return rooms;
    },
    /** Signing out drops unsent messages. */
    forget() {
      if (store.state.me) storage.removeItem(key());
    },
  };
}
