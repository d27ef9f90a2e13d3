// Request input checks. Each returns the typed value or throws an ApiError whose message names
// the field and the rule, so every bad input gets a 400 with a stable code.
import type { Request } from 'express';
import { isMessageId } from '../shared/ids.js';
import { isValidRoom } from '../shared/rooms.js';
import { ApiError } from './errors.js';

export const USERNAME_RE = /^[A-Za-z0-9_.-]{3,32}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
/** base64url of 32 bytes is 43 characters; anything far longer is not one of ours. */
const REFRESH_TOKEN_MAX = 256;
export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 200;
export const SEARCH_MAX_RESULTS = 20;

/** The parsed JSON body as an object; express.json leaves it undefined for other types. */
export function jsonObjectBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined) {
    if (req.headers['content-type'] && !req.is('application/json')) {
      throw new ApiError('unsupported_media_type', 'request body must be application/json');
    }
    throw new ApiError('invalid_body', 'request body must be a JSON object');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError('invalid_body', 'request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

export interface Credentials {
  username: string;
  password: string;
}

export function parseCredentials(body: Record<string, unknown>): Credentials {
  const { username, password } = body;
  if (typeof username !== 'string' || !USERNAME_RE.test(username)) {
    throw new ApiError(
      'invalid_username',
      username === undefined
        ? 'username is required'
        : 'username must be a string of 3–32 characters: letters, digits, "_", "." or "-"',
    );
  }
  if (typeof password !== 'string' || password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new ApiError(
      'invalid_password',
      password === undefined
        ? 'password is required'
        : `password must be a string of ${PASSWORD_MIN}–${PASSWORD_MAX} characters`,
    );
  }
  return { username, password };
}

export function parseRefreshToken(body: Record<string, unknown>): string {
  const token = body.refreshToken;
  if (typeof token !== 'string' || token.length === 0 || token.length > REFRESH_TOKEN_MAX) {
    throw new ApiError('invalid_field', 'refreshToken must be a non-empty string');
  }
  return token;
}

/** A single query-string value: repeated parameters (`?a=1&a=2`) arrive as arrays. */
function queryValue(req: Request, name: string): string | undefined {
  const v: unknown = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ApiError('invalid_field', `${name} must be given once, as a string`);
  return v;
}

/** Characters a username is made of (USERNAME_RE): a query with any other is in no name. */
const USERNAME_CHARS_RE = /^[A-Za-z0-9_.-]+$/;

/** Whether `query` could be part of some username; if not, a search need not look. */
export function couldBeInUsername(query: string): boolean {
  return USERNAME_CHARS_RE.test(query);
}

/** The people-search query: 1–32 characters, matched anywhere in a name (rooms-routes.ts). */
export function parseSearchQuery(req: Request): string {
  const q = queryValue(req, 'query');
  if (q === undefined || q.length < 1 || q.length > 32) {
    throw new ApiError('invalid_query', 'query must be 1–32 characters');
  }
  return q;
}

export function parseRoomParam(room: unknown): string {
  if (!isValidRoom(room)) {
    throw new ApiError('invalid_room', 'room must be a public room name ([a-z0-9][a-z0-9_-]{0,63}), dm:<idA>:<idB>, p:<id> or g:<id>');
  }
  return room;
}

export interface HistoryQuery {
  before: string | undefined;
  limit: number;
}

/** A message id given in the path (`/messages/:id/...`). */
export function parseMessageIdParam(id: unknown): string {
  if (!isMessageId(id)) throw new ApiError('invalid_id', 'the message id in the path must be like 1700000000000-0');
  return id;
}

/** An optional message-id query parameter (`before`, `after`). */
function idQuery(req: Request, name: string): string | undefined {
  const id = queryValue(req, name);
  if (id !== undefined && !isMessageId(id)) {
    throw new ApiError('invalid_id', `${name} must be a message id like 1700000000000-0`);
  }
  return id;
}

export function parseHistoryQuery(req: Request): HistoryQuery {
  return { before: idQuery(req, 'before'), limit: parseLimit(req) };
}

export interface RepliesQuery {
  /** Replies after this id; from the first reply when undefined. */
  after: string | undefined;
  limit: number;
}

/** `?after=<id>&limit=<1..200>` of a thread page (the same limit rule as history). */
export function parseRepliesQuery(req: Request): RepliesQuery {
  return { after: idQuery(req, 'after'), limit: parseLimit(req) };
}

/** `limit`: 1 or more, default HISTORY_DEFAULT_LIMIT; above HISTORY_MAX_LIMIT it is capped, not refused. */
function parseLimit(req: Request): number {
  const rawLimit = queryValue(req, 'limit');
  let limit = HISTORY_DEFAULT_LIMIT;
  if (rawLimit !== undefined) {
    if (!/^\d{1,9}$/.test(rawLimit) || Number(rawLimit) < 1) {
      throw new ApiError('invalid_limit', `limit must be an integer from 1 to ${HISTORY_MAX_LIMIT}`);
    }
    limit = Math.min(Number(rawLimit), HISTORY_MAX_LIMIT);
  }
  return limit;
}
