// Every error the users service puts on the wire, in one table, and the Express error handler
// that turns anything thrown (our ApiError, body-parser errors, bugs) into
// `{"error":{"code","message"}}` with the right status. The wire never sees a stack trace or
// an HTML error page.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../shared/logger.js';

/** code -> HTTP status. Clients branch on the code; the message is for humans. */
export const ERROR_STATUS = {
  invalid_json: 400, // the body is not parseable JSON
  invalid_body: 400, // the body is JSON but not an object
  invalid_username: 400, // missing, not a string, or not 3–32 of [A-Za-z0-9_.-]
  invalid_password: 400, // missing, not a string, or not 8–128 characters
  invalid_field: 400, // another field missing or of the wrong type (message names it)
  invalid_query: 400, // user search without a usable `query`; message search without a usable `q`
  invalid_room: 400, // not a room name: public, dm:<idA>:<idB>, p:<id> or g:<id>
  invalid_id: 400, // `before`, `after` or a message id in the path is not a message id `<ms>-<seq>`
  invalid_limit: 400, // `limit` is not a positive integer
  bad_request: 400, // anything else the HTTP layer rejected (bad percent-encoding...)
  too_long: 400, // a message's text over MAX_TEXT_CHARS (POST /api/rooms/:room/messages, as the ws error)
  bad_attachment: 400, // a message naming an upload that is not the sender's unsent upload to this room
  unauthorized: 401, // no, malformed or invalid bearer token
  token_expired: 401, // the access token expired: refresh it
  invalid_credentials: 401, // unknown user or wrong password (deliberately the same)
  invalid_refresh_token: 401, // unknown, expired, revoked or already-used refresh token
  forbidden: 403, // someone else's direct-message room; a role that may not do this; banned
  muted: 403, // a message from a member muted in the room (retryAfterMs, Retry-After)
  account_disabled: 403, // login with the right password to an account an operator disabled
  not_found: 404, // also a private room or group the caller is not in (the same answer as none)
  method_not_allowed: 405,
  username_taken: 409, // case-insensitively
  conflict: 409, // a membership change the room's state does not allow now (exists, archived, full, owner leaving)
  payload_too_large: 413, // also an upload past ATTACHMENT_MAX_BYTES
  unsupported_media_type: 415, // POST bodies must be application/json; an upload whose sniffed type is not in ATTACHMENT_TYPES
  range_not_satisfiable: 416, // a download's Range lies outside the file
  too_many_requests: 429, // the per-user REST budget (REST_MAX_PER_USER) is spent; see Retry-After
  quota_exceeded: 429, // the user's stored uploads would pass ATTACHMENT_QUOTA_BYTES
  too_many_attempts: 429, // login or registration throttled (per username + IP, or per IP); see Retry-After
  rate_limited: 429, // a message over a send limit (`limit`: room, account, new_rooms; retryAfterMs, Retry-After)
  internal: 500,
  unavailable: 503, // Redis or the store did not answer
  overloaded: 503, // a message refused while the ingest backlog is past INGEST_MAX_BACKLOG; see Retry-After
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers (Retry-After, Allow, WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
    /** Extra fields of the error object, after code and message (a send refusal's retryAfterMs, limit). */
    readonly details: Record<string, string | number> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = ERROR_STATUS[code];
  }
}

export function errorBody(
  code: ErrorCode,
  message: string,
  details: Record<string, string | number> = {},
): { error: { code: ErrorCode; message: string; [detail: string]: string | number } } {
  return { error: { code, message, ...details } };
}

/** Answers 405 with an Allow header; mounted with `.all()` after a route's real methods. */
export function methodNotAllowed(allowed: string[]): RequestHandler {
  const allow = allowed.join(', ');
  return () => {
    throw new ApiError('method_not_allowed', `method not allowed; use ${allow}`, { Allow: allow });
  };
}

export const notFound: RequestHandler = () => {
  throw new ApiError('not_found', 'no such resource');
};

/** body-parser error types -> our codes (its errors carry `type` and `status`). */
const BODY_PARSER_ERRORS: Record<string, [ErrorCode, string]> = {
  'entity.parse.failed': ['invalid_json', 'request body is not valid JSON'],
  'entity.too.large': ['payload_too_large', 'request body is too large'],
  'encoding.unsupported': ['unsupported_media_type', 'unsupported content encoding'],
  'charset.unsupported': ['unsupported_media_type', 'unsupported charset'],
  'request.aborted': ['bad_request', 'request aborted'],
  'request.size.invalid': ['bad_request', 'request size did not match content-length'],
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    let apiError: ApiError;
    if (err instanceof ApiError) {
      apiError = err;
    } else {
      const e = err as { type?: unknown; status?: unknown; statusCode?: unknown; message?: unknown };
      const mapped = typeof e?.type === 'string' ? BODY_PARSER_ERRORS[e.type] : undefined;
      const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
      if (mapped) {
        apiError = new ApiError(mapped[0], mapped[1]);
      } else if (status >= 400 && status < 500) {
        // e.g. Express's own 400 for a malformed percent-encoded path parameter.
        apiError = new ApiError('bad_request', 'bad request');
      } else {
        // A bug or an unreachable dependency. Log it (the error, never the request body).
        log.error({ err, method: req.method, route: routeOf(req) }, 'request failed');
        apiError = new ApiError('internal', 'internal error');
      }
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(apiError.status).set(apiError.headers).json(errorBody(apiError.code, apiError.message, apiError.details));
  };
}

/** The matched route pattern (never the raw path with ids in it), for logs and metric labels. */
export function routeOf(req: { baseUrl?: string; route?: { path?: unknown } }): string {
  const path = req.route?.path;
  return typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` : 'unmatched';
}
