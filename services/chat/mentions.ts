// @mentions as the replica hands them to send.lua: the @names a text contains, and whether it
// asks for @room. The script resolves names to MEMBERS (the room ACL's u:<name>), so this is
// only the cheap text part: no Redis, no user directory. DESIGN.md "Per-user channel and attention".
import { roomKindOf } from '../shared/rooms.js';

/** Distinct @names a message may resolve: more are ignored (a wall of @s is not 1,000 HMGET fields). */
export const MAX_MENTION_NAMES = 20;

// An @ that starts a word (not an e-mail's), then a username's characters (users/validation.ts
// USERNAME_RE: letters, digits, _ . -). A trailing '.' or '-' is usually punctuation ("thanks
// @bob.") but may be the name's own: both spellings are looked up, the ACL knows which exists.
const MENTION_RE = /(?:^|[^\w@.+-])@([A-Za-z0-9_.-]{1,32})/g;
const ROOM_ALIASES = new Set(['room', 'here', 'everyone', 'channel']);

export interface MentionArgs {
  /** '' none, 'admin' (owners and admins may), 'any' (a group: every member may). */
  roomMention: '' | 'admin' | 'any';
  /** Lowercased names, ','-joined ('' for none). */
  names: string;
}

const NONE: MentionArgs = { roomMention: '', names: '' };

export function mentionArgs(room: string, text: string): MentionArgs {
  if (!text.includes('@')) return NONE;
  const kind = roomKindOf(room);
  if (kind === 'dm' || kind === null) return NONE; // a DM notifies its peer anyway
  let roomMention: MentionArgs['roomMention'] = '';
  const names = new Set<string>();
  for (const m of text.matchAll(MENTION_RE)) {
    const raw = m[1]!.toLowerCase();
    const name = raw.replace(/[.-]+$/, '');
    if (ROOM_ALIASES.has(name)) {
      roomMention = kind === 'group' ? 'any' : 'admin';
      continue;
    }
    for (const n of name === raw ? [raw] : [name, raw]) if (n.length >= 3 && names.size < MAX_MENTION_NAMES) names.add(n);
  }
  return { roomMention, names: [...names].join(',') };
}
