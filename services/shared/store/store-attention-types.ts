// The store's attention types (issue 15: read positions, receipts, notifications; DESIGN.md
// "Per-user channel and attention"), apart from store.ts so the interface file stays readable.
// store.ts re-exports them: import them from there.
import type { ChatUser } from '../message.js';

/** One member's read position in a room, as receipts show it. */
export interface RoomRead {
  user: ChatUser;
  id: string;
  seq: number;
}

/** Why a user is notified; one notification per (user, cause message), the first kind that applies. */
export type NotificationKind = 'mention' | 'reply' | 'dm' | 'group' | 'invite';
export const NOTIFICATION_KINDS: readonly NotificationKind[] = ['mention', 'reply', 'dm', 'group', 'invite'];

export interface NewNotification {
  userId: string;
  kind: NotificationKind;
  room: string;
  /** The message (or member event, for invite) that caused it: with room and userId, the idempotency key. */
  sourceId: string;
  /** The source is a thread reply: its top-level parent (a client opens the thread with it). */
  replyTo?: string;
  actor: ChatUser;
  /** A preview, at most PREVIEW_CHARS. */
  text: string;
  ts: number;
}

/** A notification in a user's inbox. */
export interface AppNotification extends Omit<NewNotification, 'userId'> {
  /** Opaque (store-common.ts notificationId): the cursor and the handle for mark-read. */
  id: string;
  read: boolean;
}

/** A notification insertNotifications just added, with whose inbox it went to. */
export interface InsertedNotification {
  userId: string;
  notification: AppNotification;
}

/** What decides whether a user is notified about a room, read in one call for many users. */
export interface NotifyPrefs {
  /** A member now (DMs: by the room's name). */
  member: boolean;
  /** The user muted the room's notifications. */
  muted: boolean;
  dnd: boolean;
}
