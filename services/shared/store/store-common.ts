// What both store adapters compute the same way and is not part of the Store interface: the
// sidebar preview's cut and the filing of a membership row into an ACL snapshot. Here, not in
// one adapter's module, so neither adapter imports the other (and a MongoDB deployment never
// loads better-sqlite3 code paths through a helper).
import type { Role } from '../membership.js';
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
  row: { user_id: string; role: Role | null; banned: number | boolean; muted_until: number | null },
): void {
  const banned = row.banned === 1 || row.banned === true;
  if (row.role !== null && !banned) {
    snap.members.push(row.muted_until === null ? { userId: row.user_id, role: row.role } : { userId: row.user_id, role: row.role, mutedUntil: row.muted_until });
    return;
  }
  if (banned) snap.banned.push(row.user_id);
  // a mute outlives a leave (and a ban): the ACL keeps it so a rejoin is still muted
  if (row.muted_until !== null) snap.mutedNonMembers.push({ userId: row.user_id, mutedUntil: row.muted_until });
}
