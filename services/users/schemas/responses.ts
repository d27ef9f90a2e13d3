// What the routes answer, for the API description (openapi.ts) — not checked at run time: the
// routes build their answers from the store's types (store.ts, store-membership-types.ts). Objects
// are "loose" (more fields may come) so a client written against this keeps working as fields are
// added; docs/REST.md has the meaning of every field.
import { z } from 'zod';
import { NOTIFICATION_KINDS } from '../../shared/store/store-attention-types.js';
import { ROLES } from '../../shared/membership.js';
import { ROOM_KINDS } from '../../shared/rooms.js';

const ms = () => z.number().int().meta({ description: 'ms since 1970' });
const chatUser = z.object({ id: z.string(), name: z.string().meta({ description: 'the username' }) });

/** Every error: `{"error":{"code","message"}}` (a send refusal adds retryAfterMs, limit). */
export const errorEnvelope = z
  .object({
    error: z.looseObject({
      code: z.string().meta({ description: 'stable: branch on it (docs/REST.md "Errors")' }),
      message: z.string().meta({ description: 'for humans' }),
    }),
  })
  .meta({ id: 'Error' });

export const publicUser = z
  .looseObject({
    id: z.string(),
    username: z.string(),
    displayName: z.string().optional(),
    avatar: z.string().optional().meta({ description: 'an avatar id: GET /avatars/{id}' }),
    deleted: z.literal(true).optional(),
  })
  .meta({ id: 'User' });

export const userAnswer = z.object({ user: publicUser });
export const usersAnswer = z.object({ users: z.array(publicUser) });
export const meAnswer = z.object({ user: publicUser, dnd: z.boolean() });

export const session = z
  .object({
    token: z.string().meta({ description: 'the access token (JWT): Authorization: Bearer <token>' }),
    refreshToken: z.string().meta({ description: 'opaque; POST /api/auth/refresh spends it for a new pair' }),
    expiresIn: z.number().int().meta({ description: 'seconds until the access token expires' }),
    user: publicUser,
  })
  .meta({ id: 'Session' });

export const changed = z.object({ changed: z.boolean().meta({ description: 'false: it was already so (nothing appended)' }) });

export const attachment = z
  .looseObject({
    id: z.string(),
    name: z.string(),
    type: z.string().meta({ description: 'the MIME type sniffed from the bytes' }),
    size: z.number().int(),
    width: z.number().int().optional(),
    height: z.number().int().optional(),
    thumb: z.literal(true).optional(),
  })
  .meta({ id: 'Attachment' });

export const historyMessage = z
  .looseObject({
    id: z.string(),
    room: z.string(),
    user: chatUser,
    text: z.string(),
    ts: ms(),
    cid: z.string(),
    replyTo: z.string().optional(),
    seq: z.number().int().optional(),
    mentions: z.array(z.string()).optional(),
    editedAt: ms().optional(),
    deleted: z.literal(true).optional(),
    reactions: z.array(z.object({ emoji: z.string(), count: z.number().int(), me: z.boolean() })).optional(),
    replyCount: z.number().int().optional(),
    lastReplyAt: ms().optional(),
    attachments: z.array(attachment).optional(),
  })
  .meta({ id: 'HistoryMessage' });

/** A membership or room event, exactly its ws `event` frame (docs/PROTOCOL.md "Membership events"). */
const membershipEvent = z.looseObject({ type: z.literal('event'), kind: z.enum(['member', 'room']), id: z.string() }).meta({ id: 'MembershipEvent' });

export const historyPage = z.object({ messages: z.array(historyMessage), hasMore: z.boolean(), events: z.array(membershipEvent) });
export const aroundPage = z.object({ messages: z.array(historyMessage), hasOlder: z.boolean(), hasNewer: z.boolean() });
export const thread = z.object({ parent: historyMessage, replies: z.array(historyMessage), hasMore: z.boolean() });

export const roomInfo = z.object({ name: z.string(), lastMessageAt: ms().nullable(), messageCount: z.number().int() });

export const roomMeta = z
  .looseObject({
    name: z.string(),
    kind: z.enum(ROOM_KINDS as ['public', 'private', 'dm', 'group']),
    title: z.string().optional(),
    topic: z.string(),
    ownerId: z.string().optional(),
    archived: z.boolean(),
    memberCount: z.number().int(),
    lastMessageAt: ms().nullable(),
    messageCount: z.number().int(),
  })
  .meta({ id: 'RoomMeta' });

const role = z.enum(ROLES as ['owner', 'admin', 'member']);
const presence = { status: z.enum(['online', 'away', 'dnd', 'offline']), lastSeen: ms().optional() };

/** A room as its view shows it: RoomMeta with your role (when a member) and mute. */
export const roomAnswer = z.object({ room: roomMeta.extend({ role: role.optional(), mutedUntil: ms().optional() }) });
export const roomChangeAnswer = changed.extend({ room: roomAnswer.shape.room });

export const myRoom = roomMeta
  .extend({
    role,
    mutedUntil: ms().optional(),
    lastSeq: z.number().int(),
    readSeq: z.number().int(),
    readId: z.string().optional(),
    unread: z.number().int(),
    mentions: z.number().int(),
    muted: z.boolean(),
    peers: z.array(publicUser.extend(presence)).optional(),
    lastMessage: z.object({ id: z.string(), user: chatUser, text: z.string(), ts: ms() }).optional(),
  })
  .meta({ id: 'MyRoom' });

export const member = publicUser.extend({ role, mutedUntil: ms().optional(), since: ms(), ...presence });

export const notification = z
  .looseObject({
    id: z.string().meta({ description: 'opaque: the `before` cursor and the handle to mark it read' }),
    kind: z.enum(NOTIFICATION_KINDS as ['mention', 'reply', 'dm', 'group', 'invite']),
    room: z.string(),
    sourceId: z.string(),
    actor: chatUser,
    text: z.string(),
    ts: ms(),
    read: z.boolean(),
  })
  .meta({ id: 'Notification' });

export const searchResults = z.object({
  results: z.array(
    z.object({
      message: historyMessage,
      highlights: z.array(z.tuple([z.number().int(), z.number().int()])).meta({ description: '[start, end) UTF-16 offsets in message.text' }),
      room: z.object({ name: z.string(), kind: roomMeta.shape.kind, title: z.string().optional() }),
    }),
  ),
  nextCursor: z.string().optional(),
});

export const signedLink = z.object({ url: z.string().meta({ description: 'a path on this origin' }), expiresAt: ms() });
