// What the membership routes take (membership-routes.ts): a new room, a room's topic or archive
// flag, a member's role, a mute, a user to invite or ban, and the directory query.
import { z } from 'zod';
import { GROUP_MAX_MEMBERS, GROUP_MIN_MEMBERS, MAX_TITLE_CHARS, MAX_TOPIC_CHARS, ROLES } from '../../shared/membership.js';
import { PUBLIC_ROOM_RE } from '../../shared/rooms.js';
import { ApiError } from '../errors.js';
import { rule } from '../validation.js';
import { userId } from './rooms.js';

/** The longest mute a moderator can give at once (30 days); longer is a ban. */
export const MUTE_MAX_SEC = 30 * 86_400;
/** Users a public or private room's creator may invite in the same request. */
const CREATE_MAX_INVITES = 100;

const field = (name: string, why: string) => rule('invalid_field', `${name} ${why}`);

/** Visible text of one line: no control characters, trimmed. */
function line(name: string, max: number, required: boolean) {
  const length = field(name, `must be ${required ? 1 : 0}–${max} characters`);
  return z
    .string(field(name, 'must be a string'))
    .trim()
    // eslint-disable-next-line no-control-regex
    .regex(/^[^\u0000-\u001f\u007f]*$/, field(name, 'must be one line without control characters'))
    .min(required ? 1 : 0, length)
    .max(max, length)
    .meta({ description: `one line, ${required ? 1 : 0}–${max} characters after trimming` });
}

/** Ids to invite, duplicates dropped; absent (or null) is none. */
function memberIds(max: number, description: string) {
  return z
    .array(userId('members[]'), field('members', `must be an array of at most ${max} user ids`))
    .max(max, field('members', `must be an array of at most ${max} user ids`))
    .nullish()
    .transform((ids) => [...new Set(ids ?? [])])
    .meta({ description });
}

const topic = () => line('topic', MAX_TOPIC_CHARS, false).optional().transform((t) => t ?? '');
const KIND_RULE = field('kind', 'must be public, private or group (a DM is made by writing to someone)');

/** POST /api/rooms {kind, name?, title?, topic?, members?} */
export const createRoomBody = z.discriminatedUnion(
  'kind',
  [
    z.object({
      kind: z.literal('public').nullish().transform(() => 'public' as const).meta({ description: 'the default (also when absent)' }),
      name: z
        .string(rule('invalid_room', 'name must be a room name: [a-z0-9][a-z0-9_-]{0,63}'))
        .regex(PUBLIC_ROOM_RE, rule('invalid_room', 'name must be a room name: [a-z0-9][a-z0-9_-]{0,63}'))
        .meta({ description: 'the public room to create' }),
      topic: topic(),
      members: memberIds(CREATE_MAX_INVITES, 'user ids to invite'),
    }),
    z.object({
      kind: z.literal('private'),
      title: line('title', MAX_TITLE_CHARS, true),
      topic: topic(),
      members: memberIds(CREATE_MAX_INVITES, 'user ids to invite'),
    }),
    z.object({
      kind: z.literal('group'),
      members: memberIds(GROUP_MAX_MEMBERS, `the ${GROUP_MIN_MEMBERS - 1}–${GROUP_MAX_MEMBERS - 1} other members`),
    }),
  ],
  KIND_RULE,
);

export type CreateRoom = z.output<typeof createRoomBody>;

/**
 * The new room's invitees, the creator left out; a group must then have 2–9 others (a DM among
 * 3–10 people). Depends on who asks, so it is checked after the schema.
 */
export function invitees(input: CreateRoom, creatorId: string): string[] {
  const members = input.members.filter((id) => id !== creatorId);
  if (input.kind === 'group' && (members.length + 1 < GROUP_MIN_MEMBERS || members.length + 1 > GROUP_MAX_MEMBERS)) {
    throw new ApiError(
      'invalid_field',
      `members of a group must be ${GROUP_MIN_MEMBERS - 1}–${GROUP_MAX_MEMBERS - 1} other users (a DM among ${GROUP_MIN_MEMBERS}–${GROUP_MAX_MEMBERS} people)`,
    );
  }
  return members;
}

/** PATCH /api/rooms/:room {topic} | {archived} — one change per request. */
export const roomPatchBody = z
  .object({
    topic: line('topic', MAX_TOPIC_CHARS, false).optional(),
    archived: z.boolean(field('archived', 'must be true or false')).optional(),
  })
  .refine((b) => !('topic' in b && 'archived' in b), { ...rule('invalid_body', 'change the topic or archived, one per request'), when: () => true })
  .refine((b) => 'topic' in b || 'archived' in b, { ...rule('invalid_body', 'nothing to change: give topic or archived'), when: () => true })
  .transform((b): { topic: string } | { archived: boolean } => (b.topic !== undefined ? { topic: b.topic } : { archived: b.archived! }))
  .meta({ description: 'exactly one of `topic` and `archived`' });

/** PATCH /api/rooms/:room/members/:userId {role} */
export const roleBody = z.object({
  role: z.enum(ROLES as ['owner', 'admin', 'member'], field('role', 'must be owner, admin or member')).meta({ description: 'owner hands the room over' }),
});

/** POST /api/rooms/:room/members and /bans {userId} */
export const userIdBody = z.object({ userId: userId() });

/** POST /api/rooms/:room/mutes {userId, seconds} */
export const muteBody = z.object({
  seconds: z
    .int(field('seconds', `must be an integer from 1 to ${MUTE_MAX_SEC}`))
    .min(1, field('seconds', `must be an integer from 1 to ${MUTE_MAX_SEC}`))
    .max(MUTE_MAX_SEC, field('seconds', `must be an integer from 1 to ${MUTE_MAX_SEC}`))
    .meta({ description: 'how long' }),
  userId: userId(),
});

/** GET /api/directory `?q=`: 0–64 characters, matched inside names. */
export const directoryQuery = z.object({
  // a q given twice is refused like a long one (invalid_query, as it always was)
  q: z
    .string(rule('invalid_query', 'q must be at most 64 characters'))
    .max(64, rule('invalid_query', 'q must be at most 64 characters'))
    .optional()
    .transform((q) => (q ?? '').toLowerCase())
    .meta({ description: 'part of a room name (0–64 characters)' }),
});
