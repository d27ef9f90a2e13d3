// What both store adapters compute the same way and is not part of the Store interface: the
// sidebar preview's cut, the filing of a membership row into an ACL snapshot and the opaque id
// of a notification. Here, not in
// one adapter's module, so neither adapter imports the other (and a MongoDB deployment never
// loads better-sqlite3 code paths through a helper).
import { isMessageId } from '../ids.js';
import type { Role } from '../membership.js';
import { isValidRoom } from '../rooms.js';
import type { RoomAclSnapshot } from './store.js';

/** Characters of a message's text kept for the sidebar's preview (MyRoom.lastMessage). */
export const PREVIEW_CHARS = 140;

/** A text cut to PREVIEW_CHARS characters (code points, as SQLite's substr counts them). */
export function previewText(text: string): string {
  if (text.length <= PREVIEW_CHARS) return text;
  return Array.from(text).slice(0, PREVIEW_CHARS).join('');
}

/** Files one memberships row into a snapshot: a member, banned, and/or muted while not a member. */
export function addAclRow(
  snap: RoomAclSnapshot,
  row: { user_id: string; username: string; role: Role | null; banned: number | boolean; muted_until: number | null },
): void {
  const banned = row.banned === 1 || row.banned === true;
  if (row.role !== null && !banned) {
    const m: RoomAclSnapshot['members'][number] = { userId: row.user_id, username: row.username, role: row.role };
    if (row.muted_until !== null) m.mutedUntil = row.muted_until;
    snap.members.push(m);
    return;
  }
  if (banned) snap.banned.push(row.user_id);
  // a mute outlives a leave (and a ban): the ACL keeps it so a rejoin is still muted
  if (row.muted_until !== null) snap.mutedNonMembers.push({ userId: row.user_id, mutedUntil: row.muted_until });
}

/**
 * A notification's id (AppNotification.id): its key in the user's inbox, (room, sourceId), as
 * base64url of `room \n sourceId` (room names hold no newline). Opaque to clients; the inbox's
 * paging cursor and the handle for mark-read.
 */
export function notificationId(room: string, sourceId: string): string {
  return Buffer.from(`${room}\n${sourceId}`, 'utf8').toString('base64url');
}

/** The inverse of notificationId, or null when `id` is not one (a client's cursor or handle). */
export function parseNotificationId(id: string): { room: string; sourceId: string } | null {
  if (typeof id !== 'string' || id.length === 0 || id.length > 400 || !/^[A-Za-z0-9_-]+$/.test(id)) return null;
  const text = Buffer.from(id, 'base64url').toString('utf8');
  const cut = text.indexOf('\n');
  if (cut < 0) return null;
  const room = text.slice(0, cut);
  const sourceId = text.slice(cut + 1);
  if (!isValidRoom(room) || !isMessageId(sourceId)) return null;
  // one spelling per key: a re-encoding must give the same id back
  return notificationId(room, sourceId) === id ? { room, sourceId } : null;
}
