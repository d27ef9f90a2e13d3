// Sending this user's changes to messages — `edit`, `delete`, `react` — the way sends go out:
// shown at once (store.addChange), sent when the room is live (again after every (re)join, with
// the same cid, which the server dedups), pending until acked. A refusal or no answer in time
// rolls the change back and says why in a toast. Changes are not kept across a reload: unlike
// an unsent message, nothing the user typed is lost but an edit's text, which stays on screen
// until they see it roll back.
// Changes count against the same per-room send limit as messages: during a rate-limit cooldown
// (cooldown.js) they are held, still shown as "Saving…", and go out when it ends; a change
// refused `rate_limited` is held the same way rather than rolled back.
import { newCid } from './ids.js';
import { cooldowns as sharedCooldowns } from './cooldown.js';
import { overloadedRetryDelay } from './socket.js';
import { toast } from './ui/toast.js';

const ACK_TIMEOUT_MS = 15_000;
const HOLD_MAX_WAIT_MS = 2 * 60_000; // a longer wait rolls back and says so (sender.js alike)

const WHAT = { edit: 'Edit not saved', delete: 'Message not deleted', react: 'Reaction not saved' };

/** Why a change was refused, in the user's words (error codes: services/chat/protocol.ts). */
export function changeErrorText(kind, f) {
  const why = {
    not_found: kind === 'react' ? 'the message was deleted or is too old to react to' : `the message was deleted or is too old to ${kind}`,
    forbidden: `you can only ${kind} your own messages`,
    limit_reached: 'this message already has the most different reactions allowed (20)',
    too_long: 'the text is too long (4,000 characters at most)',
    rate_limited: `you are doing that too fast — try again in ${Math.max(1, Math.ceil((f.retryAfterMs || 1000) / 1000))} s`,
    not_joined: 'you are not in this room',
  }[f.code];
  return `${WHAT[kind] || 'Not saved'}: ${why || f.message || f.code || 'error'}`;
}

export function createChanges({ store, getSocket, cooldowns = sharedCooldowns }) {
  const ackTimers = new Map(); // cid -> timer
  const retryTimers = new Map(); // cid -> timer of a resend after `overloaded`
  const held = new Set(); // cids waiting for their room's cooldown to end

  function clearTimers(cid) {
    clearTimeout(ackTimers.get(cid));
    ackTimers.delete(cid);
    clearTimeout(retryTimers.get(cid));
    retryTimers.delete(cid);
  }

  function fail(c, text) {
    clearTimers(c.cid);
    if (store.failChange(c.cid)) toast(text, { kind: 'error' });
  }

  function frameOf(c) {
    if (c.kind === 'edit') return { type: 'edit', room: c.room, id: c.target, text: c.text, cid: c.cid };
    if (c.kind === 'delete') return { type: 'delete', room: c.room, id: c.target, cid: c.cid };
    return { type: 'react', room: c.room, id: c.target, emoji: c.emoji, on: c.on, cid: c.cid };
  }

  /** Sends (or re-sends, same cid) a pending change if its room is live; else it waits. */
  function send(c) {
    const socket = getSocket();
    const r = store.state.rooms.get(c.room);
    if (!socket || !r || !r.live || store.state.changes.get(c.cid) !== c || c.state !== 'pending') return;
    if (cooldowns.remaining(c.room) > 0) return void held.add(c.cid);
    held.delete(c.cid);
    if (!socket.send(frameOf(c))) return;
    store.markChangeSent(c.cid);
    clearTimeout(ackTimers.get(c.cid));
    ackTimers.set(
      c.cid,
      setTimeout(() => {
        ackTimers.delete(c.cid);
        const s = getSocket();
        if (s && s.connected && store.state.changes.get(c.cid) === c && c.state === 'pending') fail(c, `${WHAT[c.kind]}: no answer from the server`);
      }, ACK_TIMEOUT_MS),
    );
  }

  const make = (change) => send(store.addChange({ cid: newCid(), ...change }));

  // A cooldown ended: send what it held, in the order the changes were made.
  cooldowns.subscribe(() => {
    if (!held.size) return;
    for (const c of [...store.state.changes.values()]) {
      if (held.has(c.cid)) send(c);
    }
    for (const cid of held) if (!store.state.changes.has(cid)) held.delete(cid);
  });

  return {
    edit: (room, target, text) => make({ kind: 'edit', room, target, text }),
    remove: (room, target) => make({ kind: 'delete', room, target }),
    react: (room, target, emoji, on) => make({ kind: 'react', room, target, emoji, on }),
    /** After (re)joining a room: send its pending changes, oldest first. */
    flush(room) {
      for (const c of store.pendingChanges(room)) if (!retryTimers.has(c.cid)) send(c);
    },
    /** An ack: true when it was one of ours (the store confirms it). */
    onAck(frame) {
      if (!store.state.changes.has(frame.cid)) return false;
      clearTimers(frame.cid);
      store.ackChange(frame);
      return true;
    },
    /** An error frame: true when it refused one of ours (rolled back, or retried). */
    onError(f) {
      const c = f.ref ? store.state.changes.get(f.ref) : null;
      if (!c) return false;
      clearTimers(c.cid);
      const socket = getSocket();
      if (f.code === 'not_joined') {
        if (socket) socket.join(c.room); // flush runs again on `joined`
      } else if (f.code === 'rate_limited' && (Number(f.retryAfterMs) || 1000) <= HOLD_MAX_WAIT_MS) {
        cooldowns.start(f.limit === 'room' ? c.room : '*', Number(f.retryAfterMs) || 1000);
        held.add(c.cid);
      } else if (f.code === 'overloaded') {
        const retries = c.overloadedRetries || 0;
        c.overloadedRetries = retries + 1;
        retryTimers.set(
          c.cid,
          setTimeout(() => {
            retryTimers.delete(c.cid);
            send(c);
          }, overloadedRetryDelay(retries, Number(f.retryAfterMs))),
        );
      } else {
        fail(c, changeErrorText(c.kind, f));
      }
      return true;
    },
    /** Sign-out: stop every timer (the store is reset by the caller). */
    stop() {
      for (const cid of [...ackTimers.keys(), ...retryTimers.keys()]) clearTimers(cid);
      held.clear();
    },
  };
}
