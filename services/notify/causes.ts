// Which ingest entries notify whom, and how (DESIGN.md "Per-user channel and attention"). PURE:
// the worker parses an entry, plans it here, asks the store what the plan needs (the room's
// members for @room and groups, every candidate's NotifyPrefs: one call per room per batch) and
// resolves the plan against those answers.
//
// One notification per (user, cause message), its kind the FIRST that applies:
//   mention (named in `mentions`, or a member when it holds @room) > reply (a thread reply to the
//   user's message) > dm (the other user of a DM) > group (the other members of a group).
// A member event `invited` is an `invite` for the member. Never the author; never a user the
// store does not know or who is not a member now; never from a room the user muted (an invite is
// never muted: the user could not have muted a room they were not in). DND users ARE stored: the
// worker only leaves out their live push.
import { previewText } from '../shared/store/store-common.js';
import { messageSummary } from '../shared/attachments.js';
import { isMembershipLogEntry } from '../shared/membership.js';
import { isChatMessage, isReadMark, MENTION_ROOM, type ChatUser, type LogEntry, type ReadMark } from '../shared/message.js';
import { dmMembers, roomKindOf } from '../shared/rooms.js';
import type { NewNotification, NotificationKind, NotifyPrefs } from '../shared/store/store.js';

/** What one entry asks for, before the store is asked. */
export interface NotifyPlan {
  room: string;
  sourceId: string;
  /** The source is a thread reply: its parent (the notification opens the thread). */
  replyTo?: string;
  actor: ChatUser;
  text: string;
  ts: number;
  /** Users the entry names, in precedence order (the first kind per user wins). */
  named: { userId: string; kind: NotificationKind }[];
  /** The room's members are mentioned (@room): they rank with `named` mentions. */
  roomMention: boolean;
  /** A group message: every other member, at the lowest rank. */
  group: boolean;
}

/** The plan for one parsed ingest entry, or null when it notifies nobody (events, read marks...). */
export function planOf(entry: LogEntry | ReadMark): NotifyPlan | null {
  if (isReadMark(entry)) return null;
  if (isMembershipLogEntry(entry)) {
    if (entry.kind !== 'member' || entry.action !== 'invited' || entry.member.id === entry.user.id) return null;
    return {
      room: entry.room,
      sourceId: entry.id,
      actor: entry.user,
      text: '',
      ts: entry.ts,
      named: [{ userId: entry.member.id, kind: 'invite' }],
      roomMention: false,
      group: false,
    };
  }
  if (!isChatMessage(entry)) return null; // edits, deletes, reactions
  const named: NotifyPlan['named'] = [];
  let roomMention = false;
  for (const id of entry.mentions ?? []) {
    if (id === MENTION_ROOM) roomMention = true;
    else named.push({ userId: id, kind: 'mention' });
  }
  if (entry.replyToUser !== undefined) named.push({ userId: entry.replyToUser, kind: 'reply' });
  const dm = dmMembers(entry.room);
  if (dm) named.push({ userId: dm[0] === entry.user.id ? dm[1] : dm[0], kind: 'dm' });
  return {
    room: entry.room,
    sourceId: entry.id,
    ...(entry.replyTo === undefined ? {} : { replyTo: entry.replyTo }),
    actor: entry.user,
    text: previewText(messageSummary(entry)),
    ts: entry.ts,
    named,
    roomMention,
    group: roomKindOf(entry.room) === 'group',
  };
}

/** Whether resolving the plan needs the room's member list. */
export function needsMembers(plan: NotifyPlan): boolean {
  return plan.roomMention || plan.group;
}

/** Every user the plan could notify (the ids to ask NotifyPrefs for); `members` as in resolvePlan. */
export function candidatesOf(plan: NotifyPlan, members: readonly string[]): string[] {
  const ids = new Set(plan.named.map((t) => t.userId));
  if (needsMembers(plan)) for (const id of members) ids.add(id);
  ids.delete(plan.actor.id);
  return [...ids];
}

/** Why a candidate got no notification (aurora_notify_targets_dropped_total). */
export type DropReason = 'unknown_user' | 'not_member' | 'muted';

export interface Resolved {
  notifications: NewNotification[];
  dropped: DropReason[];
}

/**
 * The notifications of one plan. `members`: the room's member ids now (read only when
 * needsMembers); `prefs`: NotifyPrefs of (at least) candidatesOf(plan).
 */
export function resolvePlan(plan: NotifyPlan, members: readonly string[], prefs: ReadonlyMap<string, NotifyPrefs>): Resolved {
  const kinds = new Map<string, NotificationKind>();
  const add = (userId: string, kind: NotificationKind) => {
    if (userId !== plan.actor.id && !kinds.has(userId)) kinds.set(userId, kind);
  };
  // Precedence: named mentions and @room, then the rest of `named` (reply, dm, invite), then group.
  for (const t of plan.named) if (t.kind === 'mention') add(t.userId, 'mention');
  if (plan.roomMention) for (const id of members) add(id, 'mention');
  for (const t of plan.named) if (t.kind !== 'mention') add(t.userId, t.kind);
  if (plan.group) for (const id of members) add(id, 'group');

  const out: Resolved = { notifications: [], dropped: [] };
  for (const [userId, kind] of kinds) {
    const p = prefs.get(userId);
    const reason: DropReason | null = !p ? 'unknown_user' : !p.member ? 'not_member' : p.muted && kind !== 'invite' ? 'muted' : null;
    if (reason) {
      out.dropped.push(reason);
      continue;
    }
    const n: NewNotification = { userId, kind, room: plan.room, sourceId: plan.sourceId, actor: plan.actor, text: plan.text, ts: plan.ts };
    if (plan.replyTo !== undefined) n.replyTo = plan.replyTo;
    out.notifications.push(n);
  }
  return out;
}
