// Every HTTP route of the users service, declared once for its description: method, path (the
// Express pattern), what it takes (the zod schemas the route parses its input with: schemas/*.ts),
// who may call it and what it answers. openapi.ts turns this into the OpenAPI document served at
// /api/openapi.json and rendered at /api/docs; openapi.test.ts fails when a route the app
// registers is missing here, or one listed here is not served.
import { z } from 'zod';
import type { ErrorCode } from './errors.js';
import { postMessageBody } from './message-routes.js';
import { accountDeletionBody, credentialsBody, displayNameBody, passwordChangeBody, profilesQuery, refreshTokenBody } from './schemas/auth.js';
import { inboxQuery, markReadBody, mutedBody, statusBody } from './schemas/attention.js';
import { assistantStopBody, attachmentIdParam, signedLinkQuery, uploadQuery, variantQuery } from './schemas/files.js';
import { createRoomBody, directoryQuery, muteBody, roleBody, roomPatchBody, userIdBody } from './schemas/membership.js';
import * as answers from './schemas/responses.js';
import { aroundQuery, historyQuery, messageIdParam, repliesQuery, roomName, userId, userSearchQuery } from './schemas/rooms.js';
import { searchQuery } from './schemas/search.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** One answer: its schema (JSON) or its media type (anything else), and what it means. */
export interface Answer {
  description: string;
  schema?: z.ZodType;
  /** The media type when not JSON (a file, HTML, text); no `schema` then. */
  type?: string;
}

/** A body that is not JSON (an upload): its media type and what it is. */
export interface RawBody {
  raw: string;
  description: string;
}

export interface ApiRoute {
  method: Method;
  /** The Express pattern (`/api/rooms/:room`). */
  path: string;
  /** The docs/REST.md section it is in. */
  tag: string;
  summary: string;
  /** `bearer`: a signed-in route (an access token, charged to the user's REST budget). */
  auth: 'bearer' | 'none';
  params?: z.ZodObject;
  query?: z.ZodType;
  body?: z.ZodType | RawBody;
  responses: Record<number, Answer>;
  /** The errors particular to this route (the ones of its auth and its body are added: openapi.ts). */
  errors?: ErrorCode[];
}

const room = z.object({ room: roomName });
const roomUser = z.object({ room: roomName, userId: userId() });
const roomMessage = z.object({ room: roomName, id: messageIdParam });
const roomAttachment = z.object({ room: roomName, id: attachmentIdParam('attachment') });
const ok = (description: string, schema?: z.ZodType): Answer => ({ description, ...(schema && { schema }) });
const noContent: Answer = { description: 'done; no body' };
/** A room the caller must be able to read (room-changes.ts assertReadable). */
const READABLE: ErrorCode[] = ['invalid_room', 'forbidden', 'not_found'];
const MEMBER_CHANGE: ErrorCode[] = [...READABLE, 'invalid_field', 'conflict', 'unavailable'];
const FILE: Answer = { description: 'the bytes (206 for a range; HEAD: the headers alone)', type: 'application/octet-stream' };

const AUTH = 'Auth';
const ROOMS = 'Users and rooms';
const MEMBERS = 'Rooms and members';
const HISTORY = 'History and threads';
const FILES = 'Attachments';
const ATTENTION = 'Attention';
const WEB = 'Browser client and operations';

export const API_ROUTES: readonly ApiRoute[] = [
  // Auth and the account
  { method: 'post', path: '/api/auth/register', tag: AUTH, summary: 'Create an account (does not sign in)', auth: 'none', body: credentialsBody,
    responses: { 201: ok('the new user', answers.userAnswer) }, errors: ['invalid_username', 'invalid_password', 'too_many_attempts', 'username_taken', 'unavailable'] },
  { method: 'post', path: '/api/auth/login', tag: AUTH, summary: 'Sign in: an access token and a refresh token (a new session)', auth: 'none', body: credentialsBody,
    responses: { 200: ok('the session', answers.session) }, errors: ['invalid_username', 'invalid_password', 'invalid_credentials', 'account_disabled', 'too_many_attempts', 'unavailable'] },
  { method: 'post', path: '/api/auth/refresh', tag: AUTH, summary: 'Spend a refresh token for a new pair of the same session', auth: 'none', body: refreshTokenBody,
    responses: { 200: ok('the session, renewed', answers.session) }, errors: ['invalid_field', 'invalid_refresh_token', 'unavailable'] },
  { method: 'post', path: '/api/auth/logout', tag: AUTH, summary: 'End the session of a refresh token (idempotent)', auth: 'none', body: refreshTokenBody,
    responses: { 204: noContent }, errors: ['invalid_field'] },
  { method: 'get', path: '/api/me', tag: AUTH, summary: 'The signed-in user and their do-not-disturb choice', auth: 'bearer',
    responses: { 200: ok('you', answers.meAnswer) } },
  { method: 'patch', path: '/api/me', tag: AUTH, summary: 'Set or clear your display name', auth: 'bearer', body: displayNameBody,
    responses: { 200: ok('you, changed', answers.userAnswer) }, errors: ['invalid_field'] },
  { method: 'delete', path: '/api/me', tag: AUTH, summary: 'Delete your account (the password again)', auth: 'bearer', body: accountDeletionBody,
    responses: { 204: noContent }, errors: ['invalid_field', 'invalid_credentials', 'too_many_attempts'] },
  { method: 'put', path: '/api/me/avatar', tag: AUTH, summary: 'Set your avatar from an image (re-encoded to a 256×256 WebP)', auth: 'bearer',
    body: { raw: 'application/octet-stream', description: 'the image itself: PNG, JPEG, WebP or GIF, at most 5 MiB (any Content-Type)' },
    responses: { 200: ok('you, with the new avatar id', answers.userAnswer) }, errors: ['invalid_body', 'payload_too_large', 'unsupported_media_type'] },
  { method: 'delete', path: '/api/me/avatar', tag: AUTH, summary: 'Clear your avatar (idempotent)', auth: 'bearer',
    responses: { 200: ok('you, without an avatar', answers.userAnswer) } },
  { method: 'get', path: '/avatars/:id', tag: AUTH, summary: "A user's current avatar (no token: for <img>)", auth: 'none',
    params: z.object({ id: attachmentIdParam('avatar') }),
    responses: { 200: { description: 'the avatar, cached for a year (an id never changes)', type: 'image/webp' } }, errors: ['not_found'] },
  { method: 'get', path: '/api/users/profiles', tag: AUTH, summary: 'The profiles of given users, in the order asked', auth: 'bearer', query: profilesQuery,
    responses: { 200: ok('the profiles found (unknown ids left out)', z.object({ profiles: z.array(answers.publicUser) })) }, errors: ['invalid_field'] },
  { method: 'put', path: '/api/me/password', tag: AUTH, summary: 'Change your password; every other session ends', auth: 'bearer', body: passwordChangeBody,
    responses: { 204: noContent }, errors: ['invalid_field', 'invalid_password', 'invalid_credentials', 'too_many_attempts'] },

  // Users and rooms
  { method: 'get', path: '/api/users', tag: ROOMS, summary: 'People search: users whose name contains the query', auth: 'bearer', query: userSearchQuery,
    responses: { 200: ok('at most 20 users, those whose name starts with the query first', answers.usersAnswer) }, errors: ['invalid_query', 'invalid_field'] },
  { method: 'get', path: '/api/rooms', tag: ROOMS, summary: 'Public rooms and your DMs (the wave-1 list)', auth: 'bearer',
    responses: { 200: ok('most recently active first, at most 200', z.object({ rooms: z.array(answers.roomInfo) })) } },

  // Rooms and members
  { method: 'post', path: '/api/rooms', tag: MEMBERS, summary: 'Create a public room, a private room or a group', auth: 'bearer', body: createRoomBody,
    responses: { 201: ok('the room, with your role', answers.roomAnswer) }, errors: ['invalid_room', 'invalid_field', 'not_found', 'conflict', 'too_many_requests', 'unavailable'] },
  { method: 'get', path: '/api/rooms/:room', tag: MEMBERS, summary: "A room's state", auth: 'bearer', params: room,
    responses: { 200: ok('the room, with your role when you are a member', answers.roomAnswer) }, errors: READABLE },
  { method: 'patch', path: '/api/rooms/:room', tag: MEMBERS, summary: 'Change the topic, or archive / unarchive', auth: 'bearer', params: room, body: roomPatchBody,
    responses: { 200: ok('whether it changed, and the room', answers.roomChangeAnswer) }, errors: [...MEMBER_CHANGE, 'invalid_body'] },
  { method: 'get', path: '/api/rooms/:room/members', tag: MEMBERS, summary: "A room's members with their presence", auth: 'bearer', params: room,
    responses: { 200: ok('the owner, then admins, then by username', z.object({ members: z.array(answers.member) })) }, errors: READABLE },
  { method: 'post', path: '/api/rooms/:room/members', tag: MEMBERS, summary: 'Invite a user; your own id joins a public room', auth: 'bearer', params: room, body: userIdBody,
    responses: { 201: ok('added', answers.changed), 200: ok('already a member', answers.changed) }, errors: MEMBER_CHANGE },
  { method: 'delete', path: '/api/rooms/:room/members/:userId', tag: MEMBERS, summary: 'Leave (your own id) or kick', auth: 'bearer', params: roomUser,
    responses: { 200: ok('whether it changed', answers.changed) }, errors: MEMBER_CHANGE },
  { method: 'patch', path: '/api/rooms/:room/members/:userId', tag: MEMBERS, summary: "Change a member's role (the owner)", auth: 'bearer', params: roomUser, body: roleBody,
    responses: { 200: ok('whether it changed', answers.changed) }, errors: MEMBER_CHANGE },
  { method: 'post', path: '/api/rooms/:room/bans', tag: MEMBERS, summary: 'Ban a user (owner or admin)', auth: 'bearer', params: room, body: userIdBody,
    responses: { 200: ok('whether it changed', answers.changed) }, errors: MEMBER_CHANGE },
  { method: 'delete', path: '/api/rooms/:room/bans/:userId', tag: MEMBERS, summary: 'Lift a ban (owner or admin)', auth: 'bearer', params: roomUser,
    responses: { 200: ok('whether it changed', answers.changed) }, errors: MEMBER_CHANGE },
  { method: 'post', path: '/api/rooms/:room/mutes', tag: MEMBERS, summary: 'Mute a member for a while (owner or admin)', auth: 'bearer', params: room, body: muteBody,
    responses: { 200: ok('whether it changed', answers.changed) }, errors: MEMBER_CHANGE },
  { method: 'delete', path: '/api/rooms/:room/mutes/:userId', tag: MEMBERS, summary: 'Lift a mute (owner or admin)', auth: 'bearer', params: roomUser,
    responses: { 200: ok('whether it changed', answers.changed) }, errors: MEMBER_CHANGE },
  { method: 'get', path: '/api/me/rooms', tag: MEMBERS, summary: 'Your rooms, with unread counts and peers', auth: 'bearer',
    responses: { 200: ok('newest activity first, at most 500', z.object({ rooms: z.array(answers.myRoom) })) } },
  { method: 'get', path: '/api/directory', tag: MEMBERS, summary: 'The public room directory', auth: 'bearer', query: directoryQuery,
    responses: { 200: ok('rooms not archived, most members first, at most 50', z.object({ rooms: z.array(answers.roomMeta) })) }, errors: ['invalid_query'] },

  // History and threads
  { method: 'get', path: '/api/rooms/:room/messages', tag: HISTORY, summary: 'A page of history: before an id, or around one', auth: 'bearer', params: room,
    query: z.object({ ...historyQuery.shape, around: aroundQuery.shape.around.optional() }),
    responses: { 200: ok('`before`: messages and membership events oldest first; `around`: the page centred on that message', z.union([answers.historyPage, answers.aroundPage])) },
    errors: [...READABLE, 'invalid_id', 'invalid_limit', 'invalid_field'] },
  { method: 'post', path: '/api/rooms/:room/messages', tag: HISTORY, summary: 'Send a message without a WebSocket (as a ws `send`)', auth: 'bearer', params: room, body: postMessageBody,
    responses: {
      201: ok('accepted: its id and time', z.object({ id: z.string(), ts: z.number().int() })),
      200: ok('a retry of a cid already accepted: the same id', z.object({ id: z.string(), ts: z.number().int(), duplicate: z.literal(true) })),
    },
    // refusals in the ws `error`'s words (message-routes.ts)
    errors: ['bad_request', 'too_long', 'bad_attachment', 'forbidden', 'muted', 'not_found', 'rate_limited', 'overloaded', 'unavailable'] },
  { method: 'get', path: '/api/rooms/:room/messages/:id/replies', tag: HISTORY, summary: 'A thread: its parent and a page of replies, oldest first', auth: 'bearer', params: roomMessage, query: repliesQuery,
    responses: { 200: ok('the parent and the replies after `after`', answers.thread) }, errors: [...READABLE, 'invalid_id', 'invalid_limit', 'invalid_field'] },

  // Attachments
  { method: 'post', path: '/api/rooms/:room/attachments', tag: FILES, summary: 'Upload a file into a room (then name it in a send)', auth: 'bearer', params: room, query: uploadQuery,
    body: { raw: 'application/octet-stream', description: 'the file itself, streamed (any Content-Type; Content-Length optional)' },
    responses: { 201: ok('the upload', z.object({ attachment: answers.attachment })) },
    errors: [...READABLE, 'invalid_body', 'payload_too_large', 'unsupported_media_type', 'too_many_requests', 'quota_exceeded', 'unavailable'] },
  { method: 'get', path: '/api/rooms/:room/attachments/:id', tag: FILES, summary: 'Download a file or its thumbnail (ranges, ETag)', auth: 'bearer', params: roomAttachment, query: variantQuery,
    responses: { 200: FILE, 206: FILE, 304: { description: 'not modified (If-None-Match)' } }, errors: [...READABLE, 'invalid_field', 'range_not_satisfiable'] },
  { method: 'get', path: '/api/rooms/:room/attachments/:id/link', tag: FILES, summary: 'A signed link to a file, for <img> and downloads', auth: 'bearer', params: roomAttachment, query: variantQuery,
    responses: { 200: ok('the link and when it expires', answers.signedLink) }, errors: [...READABLE, 'invalid_field'] },
  { method: 'get', path: '/files/:id', tag: FILES, summary: 'A file by its signed link (the signature is the authorisation)', auth: 'none',
    params: z.object({ id: attachmentIdParam('attachment') }), query: signedLinkQuery,
    responses: { 200: FILE, 206: FILE, 304: { description: 'not modified (If-None-Match)' } }, errors: ['forbidden', 'not_found', 'range_not_satisfiable'] },

  // Search and the assistant
  { method: 'get', path: '/api/search', tag: 'Search', summary: 'Search the messages of every room you may read', auth: 'bearer', query: searchQuery,
    responses: { 200: ok('ranked results; nextCursor when more follow', answers.searchResults) }, errors: ['invalid_query', 'invalid_room', 'invalid_field', 'invalid_limit', 'forbidden', 'not_found'] },
  { method: 'post', path: '/api/rooms/:room/assistant/stop', tag: 'Assistant', summary: "Stop the assistant's answer to your question", auth: 'bearer', params: room, body: assistantStopBody,
    responses: { 202: ok('it stops (its final edit follows)', z.object({ stopping: z.literal(true) })) }, errors: ['invalid_room', 'invalid_field', 'not_found'] },

  // Attention
  { method: 'patch', path: '/api/me/rooms/:room', tag: ATTENTION, summary: "Mute or unmute a room's notifications for you", auth: 'bearer', params: room, body: mutedBody,
    responses: { 204: noContent }, errors: [...READABLE, 'invalid_body', 'invalid_field'] },
  { method: 'get', path: '/api/rooms/:room/reads', tag: ATTENTION, summary: "A room's read receipts", auth: 'bearer', params: room,
    responses: {
      200: ok('each member\'s read position, furthest first (receipts: false above RECEIPTS_MAX_MEMBERS members)', z.object({
        receipts: z.boolean(),
        reads: z.array(z.object({ user: z.object({ id: z.string(), name: z.string() }), id: z.string(), seq: z.number().int() })),
      })),
    },
    errors: READABLE },
  { method: 'get', path: '/api/me/notifications', tag: ATTENTION, summary: 'Your notifications inbox, newest first', auth: 'bearer', query: inboxQuery,
    responses: { 200: ok('a page, and how many are unread in all', z.object({ notifications: z.array(answers.notification), unread: z.number().int() })) },
    errors: ['invalid_id', 'invalid_limit', 'invalid_field'] },
  { method: 'post', path: '/api/me/notifications/read', tag: ATTENTION, summary: 'Mark notifications read', auth: 'bearer', body: markReadBody,
    responses: { 200: ok('how many are unread now', z.object({ unread: z.number().int() })) }, errors: ['invalid_body', 'invalid_field', 'invalid_id'] },
  { method: 'put', path: '/api/me/status', tag: ATTENTION, summary: 'Set your status: online, away or do-not-disturb', auth: 'bearer', body: statusBody,
    responses: { 204: noContent }, errors: ['invalid_body', 'invalid_field', 'unavailable'] },

  // The browser client, these docs and operations
  { method: 'get', path: '/config.json', tag: WEB, summary: 'Where the chat replicas are (for the browser client)', auth: 'none',
    responses: { 200: ok('the WebSocket URLs, first choice first, and the away timeout', z.object({ wsUrls: z.array(z.string()), awayAfterSec: z.number().int() })) } },
  { method: 'get', path: '/api/openapi.json', tag: WEB, summary: 'This API description (OpenAPI 3.1)', auth: 'none',
    responses: { 200: { description: 'the OpenAPI document', type: 'application/json' } } },
  { method: 'get', path: '/api/docs', tag: WEB, summary: 'This API description as a page', auth: 'none',
    responses: { 200: { description: 'every route: method, path, auth, parameters, body fields and their rules, answers', type: 'text/html' } } },
  { method: 'get', path: '/', tag: WEB, summary: 'The browser client (static files of FRONTEND_DIR)', auth: 'none',
    responses: { 200: { description: 'index.html (other paths: the client\'s files; 404 JSON for none)', type: 'text/html' } } },
  { method: 'get', path: '/healthz', tag: WEB, summary: 'Liveness: the process runs', auth: 'none',
    responses: { 200: ok('always ok', z.object({ status: z.literal('ok') })) } },
  // /readyz and /metrics are on ADMIN_PORT, not this API's port (docs/REST.md): not documented here.
];
