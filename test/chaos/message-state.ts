// The state of each message as a chaos client sees it (issue 13: edits, deletes, reactions and
// thread replies are EVENTS on the room log), and the one comparable form of that state.
//
// A RoomModel is built from `message` and `event` frames (live, or from a `joined` backlog) in
// arrival order, deduplicated by id. The same model, fed with what the clients were ACKED (sorted
// by id), is the ground truth the other views are held against: the store (read through the
// Store interface), every live client, a client that resumed with `since` and one that joined
// without it.
//
// Membership and room changes (`member` / `room` events, issue 14: a first join of a public room
// appends one) are on the same log: they take part in the order and duplicate checks, but they
// change no message and nobody is acked for them, so they are kept apart (membershipIds).
//
// It also checks the absolute counts the server puts in frames (a reply's `replyCount`, a
// reaction's `count`, a deleted reply's parent `replyCount`) against what it counted itself: a
// count that disagrees means an event was applied twice or lost on the server's side.
import { compareIds, idTime } from '../../services/shared/ids.js';
import type { HistoryMessage, Store } from '../../services/shared/store/store.js';

type Frame = Record<string, any>;

export interface ModelMessage {
  id: string;
  user: string;
  text: string;
  ts: number;
  replyTo?: string;
  /** The newest edit applied. */
  edit?: { id: string; text: string; ts: number };
  deleted: boolean;
  /** emoji -> users with it on. */
  reactions: Map<string, Set<string>>;
  /** Replies held and not deleted (top-level messages only). */
  replies: Map<string, number>;
}

/** What every view must agree on, per message id. */
export interface MessageView {
  text: string;
  editedAt?: number;
  deleted?: true;
  /** emoji -> sorted user ids (only emoji with at least one user). */
  reactions: Record<string, string[]>;
  replyCount: number;
  lastReplyAt?: number;
}

export class RoomModel {
  readonly messages = new Map<string, ModelMessage>();
  readonly eventIds = new Set<string>();
  /** `member` and `room` events received (not message changes: never acked, no target). */
  readonly membershipIds = new Set<string>();
  /** Every distinct entry id (message or event) in arrival order. */
  readonly order: string[] = [];
  duplicates = 0;
  /** New entries that arrived after a newer one. */
  outOfOrder = 0;
  /** The first few of those: what arrived, and the newer entry it arrived after. */
  readonly outOfOrderExamples: string[] = [];
  /** Events on a message this model does not hold (only legitimate outside a join's window). */
  orphans = 0;
  /** Server counts that disagree with this model's own. */
  readonly countProblems: string[] = [];
  private newest: string | null = null;
  private newestWhat = '';

  constructor(readonly name: string) {}

  /** A `message` frame or a `joined.messages` entry. False when already held. */
  message(f: Frame): boolean {
    if (!this.fresh(f.id, 'message')) return false;
    const m: ModelMessage = {
      id: f.id,
      user: String(f.user?.id ?? ''),
      text: String(f.text),
      ts: idTime(f.id),
      deleted: false,
      reactions: new Map(),
      replies: new Map(),
    };
    if (typeof f.replyTo === 'string') m.replyTo = f.replyTo;
    this.messages.set(m.id, m);
    const parent = m.replyTo ? this.messages.get(m.replyTo) : undefined;
    if (parent) {
      parent.replies.set(m.id, m.ts);
      this.checkCount(f, 'replyCount', parent.replies.size, `reply ${m.id} to ${parent.id}`);
    }
    return true;
  }

  /** An `event` frame or a `joined.events` entry. False when already held. */
  event(f: Frame): boolean {
    if (!this.fresh(f.id, [f.kind, f.action, f.member?.id].filter((x) => x !== undefined).join(' '))) return false;
    if (f.kind === 'member' || f.kind === 'room') {
      this.membershipIds.add(f.id);
      return true;
    }
    this.eventIds.add(f.id);
    const m = this.messages.get(f.target);
    if (!m) {
      this.orphans++;
      return true;
    }
    if (m.deleted) {
      this.countProblems.push(`${this.name}: ${f.kind} ${f.id} on ${m.id} after its delete`);
      return true;
    }
    switch (f.kind) {
      case 'edit':
        if (!m.edit || compareIds(m.edit.id, f.id) < 0) m.edit = { id: f.id, text: String(f.text), ts: idTime(f.id) };
        break;
      case 'delete': {
        m.deleted = true;
        m.reactions.clear();
        const parent = m.replyTo ? this.messages.get(m.replyTo) : undefined;
        if (parent) {
          parent.replies.delete(m.id);
          this.checkCount(f, 'replyCount', parent.replies.size, `delete ${f.id} of reply ${m.id}`);
        }
        break;
      }
      case 'react': {
        const users = m.reactions.get(f.emoji) ?? new Set<string>();
        const who = String(f.user?.id ?? '');
        if (f.on) users.add(who);
        else users.delete(who);
        if (users.size > 0) m.reactions.set(f.emoji, users);
        else m.reactions.delete(f.emoji);
        this.checkCount(f, 'count', users.size, `react ${f.id} ${f.emoji} on ${m.id}`);
        break;
      }
      default:
        this.countProblems.push(`${this.name}: unknown event kind ${String(f.kind)} (${f.id})`);
    }
    return true;
  }

  /** One message's state, or undefined when not held. */
  view(id: string): MessageView | undefined {
    const m = this.messages.get(id);
    if (!m) return undefined;
    const v: MessageView = { text: m.deleted ? '' : (m.edit?.text ?? m.text), reactions: {}, replyCount: m.replies.size };
    if (m.deleted) v.deleted = true;
    else if (m.edit) v.editedAt = m.edit.ts;
    v.reactions = byEmoji([...m.reactions].map(([emoji, users]) => [emoji, [...users]]));
    if (m.replies.size > 0) v.lastReplyAt = Math.max(...m.replies.values());
    return v;
  }

  private fresh(id: unknown, what: string): id is string {
    if (typeof id !== 'string') return false;
    if (this.messages.has(id) || this.eventIds.has(id) || this.membershipIds.has(id)) {
      this.duplicates++;
      return false;
    }
    if (this.newest && compareIds(id, this.newest) < 0) {
      this.outOfOrder++;
      if (this.outOfOrderExamples.length < 3) this.outOfOrderExamples.push(`${what} ${id} after ${this.newestWhat} ${this.newest}`);
    } else {
      this.newest = id;
      this.newestWhat = what;
    }
    this.order.push(id);
    return true;
  }

  private checkCount(f: Frame, field: string, mine: number, what: string): void {
    if (typeof f[field] === 'number' && f[field] !== mine) this.countProblems.push(`${this.name}: ${what}: frame says ${field} ${f[field]}, counted ${mine}`);
  }
}

// --- what was acked ---------------------------------------------------------------------------

/** A client frame that changes a room (without its cid). */
export type ChangeBody =
  | { type: 'send'; room: string; text: string; replyTo?: string }
  | { type: 'edit'; room: string; id: string; text: string }
  | { type: 'delete'; room: string; id: string }
  | { type: 'react'; room: string; id: string; emoji: string; on: boolean };

/** An accepted change: `id` null for a reaction acked `unchanged` (nothing appended). */
export interface AckedChange {
  user: string;
  cid: string;
  body: ChangeBody;
  id: string | null;
}

/**
 * The room as the acks say it must be: every acked message and every appended event, applied in
 * id order. Throws when one id was acked for two different changes.
 */
export function ackedModel(room: string, acked: readonly AckedChange[]): RoomModel {
  const byId = new Map<string, AckedChange>();
  for (const a of acked) {
    if (a.body.room !== room || a.id === null) continue;
    const other = byId.get(a.id);
    if (other && (other.cid !== a.cid || other.user !== a.user)) throw new Error(`one id ${a.id} acked for ${other.user}/${other.cid} and ${a.user}/${a.cid}`);
    byId.set(a.id, a);
  }
  const model = new RoomModel(`acked/${room}`);
  for (const id of [...byId.keys()].sort(compareIds)) {
    const { body, user } = byId.get(id)!;
    const u = { id: user, name: user };
    if (body.type === 'send') model.message({ id, user: u, text: body.text, ...(body.replyTo ? { replyTo: body.replyTo } : {}) });
    else if (body.type === 'edit') model.event({ id, kind: 'edit', user: u, target: body.id, text: body.text });
    else if (body.type === 'delete') model.event({ id, kind: 'delete', user: u, target: body.id });
    else model.event({ id, kind: 'react', user: u, target: body.id, emoji: body.emoji, on: body.on });
  }
  return model;
}

// --- comparing views --------------------------------------------------------------------------

/**
 * `got` against `want` over the ids `want` holds (all of them when `partial` is false; only
 * those `got` holds when true — a join without `since` sees the newest entries only), plus any
 * message `got` holds that `want` does not. One line per problem, at most `max`.
 */
export function viewProblems(label: string, want: RoomModel, got: RoomModel, opts: { partial?: boolean; max?: number } = {}): string[] {
  const out: string[] = [];
  for (const id of want.messages.keys()) {
    const g = got.view(id);
    if (!g) {
      if (!opts.partial) out.push(`${label}: ${id} missing`);
      continue;
    }
    const w = viewJson(want.view(id));
    if (viewJson(g) !== w) out.push(`${label}: ${id} is ${viewJson(g)}, acked state ${w}`);
  }
  for (const id of got.messages.keys()) if (!want.messages.has(id)) out.push(`${label}: ${id} held but never acked`);
  for (const id of got.eventIds) if (!want.eventIds.has(id)) out.push(`${label}: event ${id} received but never acked`);
  if (!opts.partial) {
    const missing = [...want.eventIds].filter((id) => !got.eventIds.has(id));
    if (missing.length) out.push(`${label}: ${missing.length} acked events never received, e.g. ${missing.slice(0, 5).join(' ')}`);
  }
  return out.slice(0, opts.max ?? 20);
}

/** A client's own record problems: order, counts the server sent, events on unknown messages. */
export function receiptProblems(label: string, got: RoomModel, opts: { orphansAllowed?: boolean } = {}): string[] {
  const out = got.countProblems.map((p) => `${label}: ${p}`).slice(0, 10);
  if (got.outOfOrder) out.push(`${label}: ${got.outOfOrder} entries arrived after a newer one, e.g. ${got.outOfOrderExamples.join('; ')}`);
  if (got.orphans && !opts.orphansAllowed) out.push(`${label}: ${got.orphans} events on messages it never received`);
  return out;
}

/**
 * The store's view of every message `want` holds: getMessage as an anonymous viewer, then, for a
 * message with reactions, as each of `users` (`me` says who reacted). A reaction count that is
 * not the number of users with `me` is a reaction counted twice or for nobody.
 */
export async function storedStateProblems(label: string, store: Store, room: string, want: RoomModel, users: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const id of want.messages.keys()) {
    const h = await store.getMessage(room, id);
    if (!h) {
      out.push(`${label}: ${id} not stored`);
      continue;
    }
    const v = await storedView(store, room, h, users, out);
    const w = viewJson(want.view(id));
    if (viewJson(v) !== w) out.push(`${label}: ${id} stored as ${viewJson(v)}, acked state ${w}`);
    if (out.length >= 20) break;
  }
  return out;
}

async function storedView(store: Store, room: string, h: HistoryMessage, users: readonly string[], problems: string[]): Promise<MessageView> {
  const v: MessageView = { text: h.text, reactions: {}, replyCount: h.replyCount ?? 0 };
  if (h.deleted) v.deleted = true;
  else if (h.editedAt !== undefined) v.editedAt = h.editedAt;
  const reactions: [string, string[]][] = [];
  for (const r of h.reactions ?? []) {
    const who: string[] = [];
    for (const u of users) if ((await store.getMessage(room, h.id, u))?.reactions?.find((x) => x.emoji === r.emoji)?.me) who.push(u);
    if (who.length !== r.count) problems.push(`${room} ${h.id}: ${r.emoji} counted ${r.count}, users with it on: ${who.join(',') || 'none'}`);
    reactions.push([r.emoji, who]);
  }
  v.reactions = byEmoji(reactions);
  if (h.lastReplyAt !== undefined) v.lastReplyAt = h.lastReplyAt;
  return v;
}

/** A view as JSON with its keys in one order (views are compared as these strings). */
export function viewJson(v: MessageView | undefined): string {
  if (!v) return 'undefined';
  const { text, editedAt, deleted, reactions, replyCount, lastReplyAt } = v;
  return JSON.stringify({ text, editedAt, deleted, reactions, replyCount, lastReplyAt });
}

/** Reactions in one canonical form: emoji in code-unit order, users sorted (views compare as JSON). */
function byEmoji(entries: [string, string[]][]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [emoji, users] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[emoji] = [...users].sort();
  return out;
}

// --- the traffic the clients make -------------------------------------------------------------

const EMOJI = ['👍', '🎉', '👀'] as const;

/**
 * The next change a client makes in `room`, from what it holds: mostly new messages, then
 * reaction toggles on recent messages, thread replies, edits of its own messages and a few
 * deletes (rare: a reaction or reply racing a delete is refused `not_found`, legitimately).
 */
export function nextChange(model: RoomModel, user: string, n: number, rand: () => number = Math.random): ChangeBody {
  const room = model.name;
  const recent = [...model.messages.values()].slice(-20).filter((m) => !m.deleted);
  const mine = recent.filter((m) => m.user === user);
  const tops = recent.filter((m) => m.replyTo === undefined);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  if (r < 0.25 && recent.length > 0) {
    // Half of the toggles take one of this user's reactions back: on, off and on again.
    const on = recent.flatMap((m) => [...m.reactions].filter(([, users]) => users.has(user)).map(([emoji]) => ({ m, emoji })));
    const { m, emoji } = on.length > 0 && rand() < 0.5 ? pick(on) : { m: pick(recent), emoji: pick(EMOJI) };
    return { type: 'react', room, id: m.id, emoji, on: !m.reactions.get(emoji)?.has(user) };
  }
  if (r < 0.4 && tops.length > 0) return { type: 'send', room, text: `${user} reply #${n}`, replyTo: pick(tops).id };
  if (r < 0.55 && mine.length > 0) return { type: 'edit', room, id: pick(mine).id, text: `${user} edit #${n}` };
  if (r < 0.59 && mine.length > 0) return { type: 'delete', room, id: pick(mine).id };
  return { type: 'send', room, text: `${user} #${n}` };
}
