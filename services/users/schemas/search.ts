// What message search takes (search-routes.ts): GET /api/search ?q=&room=&from=&before=&cursor=&limit=
// The cursor is opaque to clients: the next offset into the ranked list.
import { z } from 'zod';
import { parseQuery } from '../../shared/store/search-highlight.js';
import { queryString, rule } from '../validation.js';
import { USERNAME_RE } from './auth.js';
import { roomQuery } from './rooms.js';

export const SEARCH_Q_MAX = 200;
export const SEARCH_DEFAULT_LIMIT = 20;
export const SEARCH_MAX_LIMIT = 50;
/** Results past this rank are not served: each page ranks every match before it, so deep pages cost most. */
export const SEARCH_MAX_OFFSET = 1000;

export interface SearchRequest {
  q: string;
  room?: string;
  /** A username (resolved to an id by the route). */
  from?: string;
  /** Only messages sent before this time (ms). */
  beforeMs?: number;
  offset: number;
  limit: number;
}

const field = (name: string, why: string) => rule('invalid_field', `${name} ${why}`);

/** The opaque cursor of the page starting at `offset`. */
export function searchCursor(offset: number): string {
  return Buffer.from(`o:${offset}`, 'utf8').toString('base64url');
}

/** The offset a cursor of searchCursor stands for; -1 for anything else. */
function offsetOf(cursor: string): number {
  const text = /^[A-Za-z0-9_-]{1,16}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const m = /^o:(\d{1,4})$/.exec(text);
  const offset = m ? Number(m[1]) : -1;
  return offset >= 0 && offset <= SEARCH_MAX_OFFSET && searchCursor(offset) === cursor ? offset : -1;
}

/** `before`: ms since the epoch, or an ISO 8601 date/time (2024-05-01, 2024-05-01T12:00:00Z); NaN for anything else. */
function timeOf(value: string): number {
  const ms = /^\d{1,15}$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : NaN;
  return Number.isFinite(ms) && ms >= 0 && ms <= 8.64e15 ? ms : NaN;
}

const qRule = rule('invalid_query', `q must be 1–${SEARCH_Q_MAX} characters`);
const limitRule = rule('invalid_limit', `limit must be an integer from 1 to ${SEARCH_MAX_LIMIT}`);

export const searchQuery = z
  .object({
    q: queryString('q', qRule)
      .min(1, qRule)
      .max(SEARCH_Q_MAX, qRule)
      .refine((q) => parseQuery(q).length > 0, rule('invalid_query', 'q must contain at least one word (letters or digits)'))
      .meta({ description: `the words to find, all required (1–${SEARCH_Q_MAX} characters); "quoted words" in order, a trailing * matches word starts` }),
    room: roomQuery.optional().meta({ description: 'only this room' }),
    from: queryString('from').regex(USERNAME_RE, field('from', 'must be a username')).optional().meta({ description: 'only messages by this username' }),
    before: queryString('before')
      .transform(timeOf)
      .refine((ms) => !Number.isNaN(ms), field('before', 'must be a time: milliseconds since 1970, or an ISO date like 2024-05-01T12:00:00Z'))
      .optional()
      .meta({ description: 'only messages sent before this time: ms since 1970 or an ISO date/time' }),
    cursor: queryString('cursor')
      .transform(offsetOf)
      .refine((offset) => offset >= 0, field('cursor', 'is not a cursor this search gave (nextCursor)'))
      .optional()
      .meta({ description: 'the `nextCursor` of the previous page' }),
    limit: queryString('limit')
      .regex(/^\d{1,3}$/, limitRule)
      .transform(Number)
      .refine((n) => n >= 1 && n <= SEARCH_MAX_LIMIT, limitRule)
      .optional()
      .transform((n) => n ?? SEARCH_DEFAULT_LIMIT)
      .meta({ description: `results per page, 1–${SEARCH_MAX_LIMIT}, default ${SEARCH_DEFAULT_LIMIT}` }),
  })
  .transform(({ q, room, from, before, cursor, limit }): SearchRequest => ({
    q,
    ...(room !== undefined && { room }),
    ...(from !== undefined && { from }),
    ...(before !== undefined && { beforeMs: before }),
    offset: cursor ?? 0,
    limit,
  }));
