// The store's part for messages that change (issue 13): applying `event` frames to the messages a
// room holds, thread replies (kept out of the timeline, counted on their parent), and this
// client's own changes that the server has not confirmed yet (`state.changes`, by cid), which
// the views lay over the confirmed state and drop on error — the rollback.
// Events whose target is not held (yet) wait in the room's `orphans` and apply when it arrives:
// a history page can land after live events about its messages.
import { compareIds, insertSorted } from './ids.js';
import { applyEventTo, applyReplyCount, markDeleted, messageView } from './message-state.js';
import { applyDelta } from './assistant-answers.js';

const ORPHANS_MAX = 1000; // per room; the oldest go first (REST brings current state anyway)

export function createEventOps({ state, room, emit, addMessage, advanceHead }) {
  const meId = () => (state.me ? state.me.id : null);

  function thread(r, parentId) {
    let t = r.threads.get(parentId);
    if (!t) {
      t = { parent: parentId, ids: [], hasMore: true, loaded: false, loading: false, error: null, after: null };
      r.threads.set(parentId, t);
    }
    return t;
  }

  function orphan(r, ev) {
    let list = r.orphans.get(ev.target);
    if (!list) r.orphans.set(ev.target, (list = []));
    if (list.some((e) => e.id === ev.id && e.kind === ev.kind)) return;
    list.push(ev);
    r.orphanCount += 1;
    while (r.orphanCount > ORPHANS_MAX) {
      const [target, first] = r.orphans.entries().next().value;
      first.shift();
      r.orphanCount -= 1;
      if (first.length === 0) r.orphans.delete(target);
    }
  }

  function setReplyCount(r, parentId, id, count, ts) {
    const parent = r.msgs.get(parentId);
    if (!parent) return orphan(r, { kind: 'replies', id, target: parentId, replyCount: count, ts });
    const deleting = ts === null;
    if (!applyReplyCount(parent, id, count, ts)) return;
    if (deleting && count > 0) {
      // A reply went away: the newest remaining reply we hold is the best last-reply time.
      const t = r.threads.get(parentId);
      const alive = t ? t.ids.map((x) => r.msgs.get(x)).filter((m) => m && !m.deleted) : [];
      if (alive.length) parent.lastReplyAt = alive[alive.length - 1].ts;
    }
    emit('messages:' + r.name);
  }

  /** Confirmed: this client's change that produced `ev` is no longer pending. */
  function settle(r, ev, msg) {
    let settled = false;
    for (const [cid, c] of state.changes) {
      if (c.room !== r.name) continue;
      const mine = ev.cid && cid === ev.cid && ev.user && ev.user.id === meId();
      if (mine || (c.eventId && c.eventId === ev.id)) {
        state.changes.delete(cid);
        settled = true;
      }
    }
    if (settled) {
      if (msg) msg.rev++;
      emit('changes');
    }
    return settled;
  }

  function applyOne(r, ev) {
    if (ev.kind === 'replies') return setReplyCount(r, ev.target, ev.id, ev.replyCount, ev.ts);
    const msg = r.msgs.get(ev.target);
    const settled = settle(r, ev, msg);
    if (!msg) orphan(r, ev);
    else if (applyEventTo(msg, ev, meId()) || settled) emit('messages:' + r.name);
    // After the reply itself is a tombstone: the parent's last-reply time skips it.
    if (ev.kind === 'delete' && typeof ev.replyTo === 'string' && Number.isInteger(ev.replyCount)) {
      setReplyCount(r, ev.replyTo, ev.id, ev.replyCount, null);
    }
  }

  /** Events that waited for `msg`, oldest first. */
  function adoptOrphans(r, msg) {
    const list = r.orphans.get(msg.id);
    if (!list) return;
    r.orphans.delete(msg.id);
    r.orphanCount -= list.length;
    list.sort((a, b) => compareIds(a.id, b.id));
    for (const ev of list) applyOne(r, ev);
  }

  /** A reply frame's count of its parent's replies (newest wins). */
  function countReply(r, parentId, id, parentCount, ts) {
    if (Number.isInteger(parentCount)) setReplyCount(r, parentId, id, parentCount, ts);
  }

  /** A reply was added to the room's messages: file it under its thread, count it. */
  function addReply(r, msg, parentCount) {
    insertSorted(thread(r, msg.replyTo).ids, msg.id);
    countReply(r, msg.replyTo, msg.id, parentCount, msg.ts);
  }

  /** Drops threads (and their replies) whose parent is no longer held, except the open one. */
  function dropThreadsOf(r) {
    for (const [parentId, t] of r.threads) {
      if (r.msgs.has(parentId) || (state.thread && state.thread.room === r.name && state.thread.parent === parentId)) continue;
      for (const id of t.ids) r.msgs.delete(id);
      r.threads.delete(parentId);
    }
  }

  /**
   * A message by an account whose messages were removed: a tombstone, as a `delete` would make
   * it (the server deletes them without an event per message). A reply leaves its parent's count.
   */
  function removeIfGone(r, msg) {
    if (!state.removedAuthors.has(msg.user.id) || !markDeleted(msg)) return false;
    const parent = msg.replyTo ? r.msgs.get(msg.replyTo) : null;
    if (parent && parent.replyCount > 0) {
      parent.replyCount--;
      const t = r.threads.get(parent.id);
      const alive = t ? t.ids.map((x) => r.msgs.get(x)).filter((m) => m && !m.deleted) : [];
      if (parent.replyCount === 0) parent.lastReplyAt = null;
      else if (alive.length) parent.lastReplyAt = alive[alive.length - 1].ts;
      parent.rev++;
    }
    return true;
  }

  const changesOn = (roomName, id) => [...state.changes.values()].filter((c) => c.room === roomName && c.target === id);

  function view(roomName, id) {
    const r = state.rooms.get(roomName);
    const msg = r && r.msgs.get(id);
    return msg ? messageView(msg, changesOn(roomName, id), meId()) : null;
  }

  function bump(c) {
    const r = state.rooms.get(c.room);
    const msg = r && r.msgs.get(c.target);
    if (msg) msg.rev++;
    emit('changes');
    emit('messages:' + c.room);
  }

  return {
    internal: { addReply, countReply, adoptOrphans, dropThreadsOf, removeIfGone },
    ops: {
      /** A live `event` frame (edit, delete, react). */
      applyEvent(frame) {
        if (!frame || typeof frame.target !== 'string' || typeof frame.id !== 'string') return;
        const r = room(frame.room);
        advanceHead(r, frame.id);
        applyOne(r, frame);
      },
      /** A `delta` frame: the assistant's answer so far, shown until its final edit (assistant-answers.js). */
      applyDelta(frame) {
        const r = frame && state.rooms.get(frame.room);
        const msg = r && r.msgs.get(frame.id);
        if (msg && applyDelta(msg, frame)) emit('messages:' + r.name);
      },
      /** The events of a `joined` frame, after its messages: in id order whatever they came in. */
      applyJoinedEvents(r, events) {
        const list = (Array.isArray(events) ? events : []).filter((e) => e && typeof e.id === 'string' && typeof e.target === 'string');
        list.sort((a, b) => compareIds(a.id, b.id));
        for (const ev of list) {
          advanceHead(r, ev.id);
          applyOne(r, ev);
        }
        // A change acked before this (re)join: its event was in this backlog or came before.
        for (const [cid, c] of state.changes) {
          if (c.room !== r.name || c.state !== 'acked') continue;
          state.changes.delete(cid);
          bump(c);
        }
      },
      /**
       * A deleted account's messages were removed (`profile` frame, messagesRemoved): every one
       * this client holds becomes a tombstone now, and any that arrives later too (a resume
       * replays the room log as it was written).
       */
      removeMessagesOf(userId) {
        if (typeof userId !== 'string' || state.removedAuthors.has(userId)) return;
        state.removedAuthors.add(userId);
        for (const r of state.rooms.values()) {
          let changed = false;
          for (const msg of r.msgs.values()) if (removeIfGone(r, msg)) changed = true;
          if (changed) emit('messages:' + r.name);
        }
        emit('removedAuthors');
      },
      /** The message as it should look now (own unconfirmed changes included), or null. */
      view,
      /** Render key of a message: changes whenever its view may have. */
      revOf(roomName, id) {
        const r = state.rooms.get(roomName);
        const msg = r && r.msgs.get(id);
        return msg ? msg.rev : -1;
      },
      thread(roomName, parentId) {
        return thread(room(roomName), parentId);
      },
      openThread(roomName, parentId) {
        state.thread = { room: roomName, parent: parentId };
        thread(room(roomName), parentId);
        emit('thread');
      },
      closeThread() {
        state.thread = null;
        emit('thread');
      },
      /** A page of GET …/messages/:id/replies (replies oldest first, current state). */
      addThreadPage(roomName, parentId, res) {
        const r = room(roomName);
        const t = thread(r, parentId);
        if (res.parent && typeof res.parent.id === 'string') addMessage(r, res.parent);
        const replies = Array.isArray(res.replies) ? res.replies : [];
        for (const m of replies) addMessage(r, { ...m, replyTo: parentId, replyCount: undefined });
        if (replies.length) t.after = replies[replies.length - 1].id;
        t.hasMore = Boolean(res.hasMore) && replies.length > 0;
        t.loaded = true;
        t.loading = false;
        t.error = null;
        emit('messages:' + roomName);
      },
      setThreadLoading(roomName, parentId, loading, error = null) {
        const t = thread(room(roomName), parentId);
        t.loading = loading;
        t.error = error;
        emit('messages:' + roomName);
      },
      /** Newest message of mine, not deleted, in the timeline or in a thread: what Up edits. */
      lastOwnMessage(roomName, parentId = null) {
        const r = state.rooms.get(roomName);
        if (!r || !state.me) return null;
        const ids = parentId ? (r.threads.get(parentId) || { ids: [] }).ids : r.ids;
        for (let i = ids.length - 1; i >= 0; i--) {
          const v = view(roomName, ids[i]);
          if (v && v.user.id === state.me.id && !v.deleted) return v;
        }
        return null;
      },

      // --- own changes (edit, delete, react) until the server confirms them ----------------
      addChange(change) {
        const c = { ...change, state: 'pending', eventId: null, createdAt: Date.now(), sentAt: 0 };
        state.changes.set(c.cid, c);
        bump(c);
        return c;
      },
      markChangeSent(cid) {
        const c = state.changes.get(cid);
        if (c) c.sentAt = Date.now();
      },
      /** An ack of a change; returns it, or null when the cid is not a change of ours. */
      ackChange(frame) {
        const c = state.changes.get(frame.cid);
        if (!c) return null;
        const r = room(c.room);
        const msg = r.msgs.get(c.target);
        if (frame.unchanged) {
          // Already as asked on the server (another tab, a resend): make ours say so too.
          const rx = msg && msg.reactions.get(c.emoji);
          if (msg && !msg.deleted && c.kind === 'react' && (!rx || rx.me !== c.on)) {
            const entry = rx || { count: 0, me: false, v: null, mv: null };
            entry.count = Math.max(0, entry.count + (c.on ? 1 : -1));
            entry.me = c.on;
            msg.reactions.set(c.emoji, entry);
          }
          state.changes.delete(c.cid);
          bump(c);
          return c;
        }
        c.state = 'acked';
        c.eventId = frame.id;
        if (c.kind === 'react') return c; // the event brings the count; the overlay holds till then
        // The event frame itself is on its way; its content is known, so apply it now.
        const ts = typeof frame.ts === 'number' ? frame.ts : Date.now();
        const user = { id: state.me.id, name: state.me.username };
        applyOne(r, { type: 'event', kind: c.kind, room: c.room, user, target: c.target, text: c.text, cid: c.cid, id: frame.id, ts });
        if (state.changes.delete(c.cid)) bump(c);
        return c;
      },
      /** Refused or unanswered: forget it, which rolls the view back. */
      failChange(cid) {
        const c = state.changes.get(cid);
        if (!c) return null;
        state.changes.delete(cid);
        bump(c);
        return c;
      },
      pendingChanges(roomName) {
        return [...state.changes.values()].filter((c) => c.room === roomName && c.state === 'pending');
      },
    },
  };
}
