// Request bodies of the membership API (membership-routes.ts): each parser returns the typed
// value or throws an ApiError naming the field and the rule.
import { GROUP_MAX_MEMBERS, GROUP_MIN_MEMBERS, MAX_TITLE_CHARS, MAX_TOPIC_CHARS, type Role } from '../shared/membership.js';
import { isPublicRoom, USER_ID_RE } from '../shared/rooms.js';
import { ApiError } from './errors.js';

/** The longest mute a moderator can give at once (30 days); longer is a ban. */
export const MUTE_MAX_SEC = 30 * 86_400;

export type CreateRoom =
  | { kind: 'public'; name: string; topic: string; members: string[] }
  | { kind: 'private'; title: string; topic: string; members: string[] }
  | { kind: 'group'; members: string[] };

const field = (name: string, rule: string) => new ApiError('invalid_field', `${name} ${rule}`);

/** Visible text of one line: no control characters, trimmed. */
function line(body: Record<string, unknown>, name: string, max: number, required: boolean): string {
  const v = body[name];
  if (v === undefined && !required) return '';
  if (typeof v !== 'string') throw field(name, 'must be a string');
  const s = v.trim();
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) throw field(name, 'must be one line without control characters');
  if (s.length > max || (required && s.length === 0)) throw field(name, `must be ${required ? 1 : 0}–${max} characters`);
  return s;
}

export function parseUserId(v: unknown, name = 'userId'): string {
  if (typeof v !== 'string' || !USER_ID_RE.test(v)) throw field(name, 'must be a user id');
  return v;
}

function memberIds(body: Record<string, unknown>, max: number): string[] {
  const v = body.members ?? [];
  if (!Array.isArray(v) || v.length > max) throw field('members', `must be an array of at most ${max} user ids`);
  return [...new Set(v.map((id) => parseUserId(id, 'members[]')))];
}

/** POST /api/rooms {kind, name?, title?, topic?, members?} */
export function parseCreateRoom(body: Record<string, unknown>, creatorId: string): CreateRoom {
  const kind = body.kind ?? 'public';
  if (kind === 'public') {
    const name = body.name;
    if (typeof name !== 'string' || !isPublicRoom(name)) {
      throw new ApiError('invalid_room', 'name must be a room name: [a-z0-9][a-z0-9_-]{0,63}');
    }
    return { kind, name, topic: line(body, 'topic', MAX_TOPIC_CHARS, false), members: memberIds(body, 100).filter((id) => id !== creatorId) };
  }
  if (kind === 'private') {
    return {
      kind,
      title: line(body, 'title', MAX_TITLE_CHARS, true),
      topic: line(body, 'topic', MAX_TOPIC_CHARS, false),
      members: memberIds(body, 100).filter((id) => id !== creatorId),
    };
  }
  if (kind === 'group') {
    const members = memberIds(body, GROUP_MAX_MEMBERS).filter((id) => id !== creatorId);
    if (members.length + 1 < GROUP_MIN_MEMBERS || members.length + 1 > GROUP_MAX_MEMBERS) {
      throw field('members', `of a group must be ${GROUP_MIN_MEMBERS - 1}–${GROUP_MAX_MEMBERS - 1} other users (a DM among ${GROUP_MIN_MEMBERS}–${GROUP_MAX_MEMBERS} people)`);
    }
    return { kind, members };
  }
  throw field('kind', 'must be public, private or group (a DM is made by writing to someone)');
}

/** PATCH /api/rooms/:room {topic?, archived?} — one change per request. */
export function parseRoomPatch(body: Record<string, unknown>): { topic: string } | { archived: boolean } {
  if ('topic' in body && 'archived' in body) throw new ApiError('invalid_body', 'change the topic or archived, one per request');
  if ('topic' in body) return { topic: line(body, 'topic', MAX_TOPIC_CHARS, false) };
  if ('archived' in body) {
    if (typeof body.archived !== 'boolean') throw field('archived', 'must be true or false');
    return { archived: body.archived };
  }
  throw new ApiError('invalid_body', 'nothing to change: give topic or archived');
}

/** PATCH /api/rooms/:room/members/:userId {role} */
export function parseRole(body: Record<string, unknown>): Role {
  const role = body.role;
  if (role !== 'owner' && role !== 'admin' && role !== 'member') throw field('role', 'must be owner, admin or member');
  return role;
}

/** POST /api/rooms/:room/mutes {userId, seconds} */
export function parseMute(body: Record<string, unknown>): { userId: string; seconds: number } {
  const seconds = body.seconds;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > MUTE_MAX_SEC) {
    throw field('seconds', `must be an integer from 1 to ${MUTE_MAX_SEC}`);
  }
  return { userId: parseUserId(body.userId), seconds };
}

/** `?q=` of the public room directory: 0–64 characters. */
export function parseDirectoryQuery(q: unknown): string {
  if (q === undefined) return '';
  if (typeof q !== 'string' || q.length > 64) throw new ApiError('invalid_query', 'q must be at most 64 characters');
  return q.toLowerCase();
}
