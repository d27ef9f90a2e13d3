// A message's current state as history shows it (HistoryMessage), built the same way by both
// store adapters so their answers are equal property for property and byte for byte as JSON:
// one key order, and a property that has nothing to say is absent, never `undefined`.
import type { ChatMessage } from '../message.js';
import type { HistoryMessage, Reaction } from './store.js';

/** What the events applied to a message (and its thread) left. */
export interface MessageState {
  /** The newest edit's text, when edited and not deleted. */
  editedText?: string | null | undefined;
  editedAt?: number | null | undefined;
  deleted?: boolean | number | null | undefined;
  reactions?: Reaction[] | undefined;
  replyCount?: number | null | undefined;
  lastReplyAt?: number | null | undefined;
}

/**
 * Keys in this order: id room user text ts cid, then replyTo, seq, mentions (as the room log's
 * frames: message.ts logEntryOf), editedAt | deleted, reactions, replyCount, lastReplyAt. `m` is
 * a message as first stored; its `user` object is reused.
 */
export function historyMessage(m: ChatMessage, s: MessageState): HistoryMessage {
  const deleted = Boolean(s.deleted);
  const h: HistoryMessage = {
    id: m.id,
    room: m.room,
    user: m.user,
    // a tombstone keeps who and when, nothing of what
    text: deleted ? '' : (s.editedText ?? m.text),
    ts: m.ts,
    cid: m.cid,
  };
  if (m.replyTo !== undefined) h.replyTo = m.replyTo;
  if (m.seq !== undefined) h.seq = m.seq;
  // a tombstone names nobody: its mentions go with its text (its seq stays: it is still a place)
  if (m.mentions !== undefined && m.mentions.length > 0 && !deleted) h.mentions = m.mentions;
  if (deleted) h.deleted = true;
  else {
    if (s.editedAt !== null && s.editedAt !== undefined) h.editedAt = s.editedAt;
    if (s.reactions && s.reactions.length > 0) h.reactions = s.reactions;
  }
  // a deleted parent keeps its thread: the replies are still there to read
  if (s.replyCount) {
    h.replyCount = s.replyCount;
    if (s.lastReplyAt !== null && s.lastReplyAt !== undefined) h.lastReplyAt = s.lastReplyAt;
  }
  return h;
}

/** One emoji's tally on one message, with the sort key of its oldest current reaction. */
export interface ReactionTally {
  emoji: string;
  count: number;
  me: boolean;
  /** idSortKey of the oldest current reaction with this emoji. */
  first: string;
}

/** Reactions ordered by the oldest current reaction with each emoji (first come, first shown). */
export function orderReactions(tallies: ReactionTally[]): Reaction[] {
  return tallies
    .filter((t) => t.count > 0)
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))
    .map((t) => ({ emoji: t.emoji, count: t.count, me: t.me }));
}
