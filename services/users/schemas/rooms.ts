// Names in paths and the paging queries of history (rooms-routes.ts, search-routes.ts): room
// names, user ids, message ids, `before`/`after`/`around`/`limit`, and the people-search query.
import { z } from 'zod';
import { isMessageId } from '../../shared/ids.js';
import { isValidRoom, USER_ID_RE } from '../../shared/rooms.js';
import { queryString, rule } from '../validation.js';

export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 200;
export const SEARCH_MAX_RESULTS = 20;

const ROOM_RULE = 'room must be a public room name ([a-z0-9][a-z0-9_-]{0,63}), dm:<idA>:<idB>, p:<id> or g:<id>';
const ROOM_DESCRIPTION = 'a room name: public `[a-z0-9][a-z0-9_-]{0,63}`, `dm:<idA>:<idB>` (ids sorted), `p:<16 chars>` or `g:<16 chars>`; the `:` may be percent-encoded';

/** A room name (Express has already percent-decoded a path parameter: `dm%3Aa%3Ab` is `dm:a:b`). */
export const roomName = z
  .string(rule('invalid_room', ROOM_RULE))
  .refine(isValidRoom, rule('invalid_room', ROOM_RULE))
  .meta({ description: ROOM_DESCRIPTION });

/** The same rule for a query parameter (given once). */
export const roomQuery = queryString('room').refine(isValidRoom, rule('invalid_room', ROOM_RULE)).meta({ description: ROOM_DESCRIPTION });

/** A user id, as field `name` (in a body, a path or a list). */
export const userId = (name = 'userId') => {
  const r = rule('invalid_field', `${name} must be a user id`);
  return z.string(r).regex(USER_ID_RE, r);
};

/** A message id given in the path (`/messages/:id/...`). */
export const messageIdParam = z
  .string(rule('invalid_id', 'the message id in the path must be like 1700000000000-0'))
  .refine(isMessageId, rule('invalid_id', 'the message id in the path must be like 1700000000000-0'))
  .meta({ description: 'a message id `<ms>-<seq>`' });

/** An optional message-id query parameter (`before`, `after`, `around`). */
const idQuery = (name: string, description: string) =>
  queryString(name)
    .refine(isMessageId, rule('invalid_id', `${name} must be a message id like 1700000000000-0`))
    .meta({ description });

/** `limit`: 1 or more, default HISTORY_DEFAULT_LIMIT; above HISTORY_MAX_LIMIT it is capped, not refused. */
const historyLimit = () => {
  const r = rule('invalid_limit', `limit must be an integer from 1 to ${HISTORY_MAX_LIMIT}`);
  return queryString('limit')
    .regex(/^\d{1,9}$/, r)
    .transform(Number)
    .refine((n) => n >= 1, r)
    .transform((n) => Math.min(n, HISTORY_MAX_LIMIT))
    .optional()
    .transform((n) => n ?? HISTORY_DEFAULT_LIMIT)
    .meta({ description: `an integer ≥ 1, default ${HISTORY_DEFAULT_LIMIT}; above ${HISTORY_MAX_LIMIT} it is capped` });
};

/** GET /api/rooms/:room/messages `?before=<id>&limit=<n>` */
export const historyQuery = z.object({
  before: idQuery('before', 'the page ends just before this message id (exclusive); without it, the newest messages').optional(),
  limit: historyLimit(),
});

/** GET /api/rooms/:room/messages/:id/replies `?after=<id>&limit=<n>` (the same limit rule as history) */
export const repliesQuery = z.object({
  after: idQuery('after', 'replies after this id (exclusive): the last reply of the previous page; without it, from the first').optional(),
  limit: historyLimit(),
});

/** GET /api/rooms/:room/messages `?around=<id>&limit=<n>` (search-routes.ts). */
export const aroundQuery = z.object({
  around: idQuery('around', 'the page is centred on this message (on its parent for a thread reply)'),
  before: z.undefined(rule('invalid_field', 'give around or before, not both')).optional(),
  limit: historyLimit(),
});

/** GET /api/users `?query=`: 1–32 characters, matched anywhere in a name. */
export const userSearchQuery = z.object({
  query: queryString('query', rule('invalid_query', 'query must be 1–32 characters'))
    .min(1, rule('invalid_query', 'query must be 1–32 characters'))
    .max(32, rule('invalid_query', 'query must be 1–32 characters'))
    .meta({ description: 'part of a username, 1–32 characters' }),
});

/** Characters a username is made of (USERNAME_RE): a query with any other is in no name. */
const USERNAME_CHARS_RE = /^[A-Za-z0-9_.-]+$/;

/** Whether `query` could be part of some username; if not, a search need not look. */
export function couldBeInUsername(query: string): boolean {
  return USERNAME_CHARS_RE.test(query);
}
