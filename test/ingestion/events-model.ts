// What the store must hold after a stream of messages and room events, computed here from the
// entries themselves (each applied once, in id order) — written apart from the store adapters
// so a test compares the store with an independent answer, not with itself. Also a seeded
// generator of mixed traffic: messages, thread replies, edits, deletes and reaction toggles.
import { compareIds } from '../../services/shared/ids.js';
import { isRoomEvent, type ChatMessage, type LogEntry, type RoomEvent } from '../../services/shared/message.js';
import type { HistoryMessage, Reaction, Store } from '../../services/shared/store/store.js';
import type { Draft, EventDraft } from './fixtures.js';

const key = (room: string, id: string) => `${room}\n${id}`;

/** Every message's expected state (by room + id) as `viewer` sees it. */
export function expectedState(entries: readonly LogEntry[], viewer?: string): Map<string, HistoryMessage> {
  const messages = entries.filter((e): e is ChatMessage => !isRoomEvent(e));
  const events = entries.filter(isRoomEvent).sort((a, b) => compareIds(a.id, b.id));
  const state = new Map<string, { edit?: RoomEvent & { kind: 'edit' }; deleted: boolean; toggles: Map<string, RoomEvent & { kind: 'react' }> }>();
  for (const m of messages) state.set(key(m.room, m.id), { deleted: false, toggles: new Map() });
  for (const e of events) {
    const s = state.get(key(e.room, e.target));
    if (!s) continue; // an event on a message never stored changes nothing visible
    if (e.kind === 'delete') s.deleted = true;
    else if (e.kind === 'edit') s.edit = e; // id order: the newest edit wins
    else s.toggles.set(`${e.emoji}\n${e.user.id}`, e);
  }
  const out = new Map<string, HistoryMessage>();
  for (const m of messages) {
    const s = state.get(key(m.room, m.id))!;
    const h: HistoryMessage = { ...m, user: { ...m.user } };
    if (s.deleted) {
      h.text = '';
      h.deleted = true;
    } else {
      if (s.edit) {
        h.text = s.edit.text;
        h.editedAt = s.edit.ts;
      }
      const reactions = reactionsOf([...s.toggles.values()], viewer);
      if (reactions.length > 0) h.reactions = reactions;
    }
    out.set(key(m.room, m.id), h);
  }
  for (const m of messages) {
    if (m.replyTo === undefined || state.get(key(m.room, m.id))!.deleted) continue;
    const parent = out.get(key(m.room, m.replyTo));
    if (!parent) continue;
    parent.replyCount = (parent.replyCount ?? 0) + 1;
    parent.lastReplyAt = Math.max(parent.lastReplyAt ?? 0, m.ts);
  }
  return out;
}

/** Reactions switched on, per emoji, ordered by the oldest current reaction with that emoji. */
function reactionsOf(toggles: (RoomEvent & { kind: 'react' })[], viewer: string | undefined): Reaction[] {
  const byEmoji = new Map<string, { count: number; me: boolean; first: string }>();
  for (const t of toggles) {
    if (!t.on) continue;
    const r = byEmoji.get(t.emoji);
    if (!r) byEmoji.set(t.emoji, { count: 1, me: t.user.id === viewer, first: t.id });
    else {
      r.count++;
      r.me ||= t.user.id === viewer;
      if (compareIds(t.id, r.first) < 0) r.first = t.id;
    }
  }
  return [...byEmoji]
    .sort(([, a], [, b]) => compareIds(a.first, b.first))
    .map(([emoji, r]) => ({ emoji, count: r.count, me: r.me }));
}

/**
 * Compares the store with expectedState: every message (getMessage) in its expected state, the
 * top-level messages of each room once each in id order (messagesAfter), and each room's
 * messageCount (replies included). Returns the first problem found, or null.
 */
export async function stateProblems(store: Store, entries: readonly LogEntry[], viewer?: string): Promise<string | null> {
  const expected = expectedState(entries, viewer);
  const rooms = new Map<string, HistoryMessage[]>();
  for (const h of expected.values()) {
    const list = rooms.get(h.room);
    if (list) list.push(h);
    else rooms.set(h.room, [h]);
  }
  for (const [room, list] of rooms) {
    for (const want of list) {
      const got = await store.getMessage(room, want.id, viewer);
      if (JSON.stringify(sortKeys(got)) !== JSON.stringify(sortKeys(want))) {
        return `${room} ${want.id}: stored ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
      }
    }
    const top = list.filter((h) => h.replyTo === undefined).map((h) => h.id).sort(compareIds);
    const stored: string[] = [];
    for (let after = '0-0'; ; ) {
      const page = await store.messagesAfter(room, after, 1000, viewer);
      stored.push(...page.map((h) => h.id));
      if (page.length < 1000) break;
      after = page[page.length - 1]!.id;
    }
    if (stored.join() !== top.join()) return `${room}: top-level ids ${stored.length} stored vs ${top.length} expected, or out of order`;
    const info = await store.getRoom(room);
    if (info?.messageCount !== list.length) return `${room}: messageCount ${info?.messageCount}, expected ${list.length}`;
  }
  return null;
}

/** Key order does not matter to the comparison; absent and undefined are the same. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, x]) => [k, sortKeys(x)]),
  );
}


export const EMOJI = ['👍', '🎉', '❤️', '😂', '👀', '🇫🇷', '👩‍💻'] as const;
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4'] as const;

/**
 * One round of traffic after the messages `known` (already produced): `messages` new ones
 * (a third of them replies to a known top-level message) and `events` events on known
 * messages: edits by the author, deletes, reaction toggles by anyone.
 */
export function roundDrafts(
  known: readonly ChatMessage[],
  rooms: readonly string[],
  { messages, events }: { messages: number; events: number },
  rand: () => number,
): (Draft | EventDraft)[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const out: (Draft | EventDraft)[] = [];
  const tops = known.filter((m) => m.replyTo === undefined);
  for (let i = 0; i < messages; i++) {
    const uid = pick(USERS);
    const parent = tops.length > 0 && rand() < 0.33 ? pick(tops) : undefined;
    const room = parent?.room ?? pick(rooms);
    out.push({ room, uid, name: `name-${uid}`, text: `text ${rand().toString(36).slice(2, 8)}`, ...(parent ? { replyTo: parent.id } : {}) });
  }
  for (let i = 0; i < events && known.length > 0; i++) {
    const m = pick(known);
    const r = rand();
    const base = { room: m.room, target: m.id };
    if (r < 0.3) out.push({ ...base, kind: 'edit', uid: m.user.id, name: m.user.name, text: `edit ${rand().toString(36).slice(2, 8)}` });
    else if (r < 0.4) out.push({ ...base, kind: 'delete', uid: m.user.id, name: m.user.name, ...(m.replyTo ? { replyTo: m.replyTo } : {}) });
    else {
      const uid = pick(USERS);
      out.push({ ...base, kind: 'react', uid, name: `name-${uid}`, emoji: pick(EMOJI), on: rand() < 0.7 });
    }
  }
  // Shuffled: events only name messages of earlier rounds, so any order is a valid room log.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
