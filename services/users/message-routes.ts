// POST /api/rooms/:room/messages: bots and integrations send without a WebSocket (issue 19).
//
// A request is a ws `send` frame by another door. Its body is validated by the frame's own parser
// (chat/protocol.ts: the same rules, codes and text normalisation), and the message goes through
// THE send script a chat replica runs (chat/send-script.ts, lua/send.lua): idempotency by cid, the
// per-user-per-room rate limit, the account-wide send budget, the new-room cap, the ingest backlog
// bound, the room ACL, the XADD to the room log and to the ingest stream (stored by ingestion) and
// the SPUBLISH every replica fans out live. A room-rate refusal counts toward auto-mute, as on ws.
//
// Where a socket must `join` a room before it sends, a request makes the same join first
// (chat/room-access.ts joinAccess): a public room makes the poster a member (its first post is a
// `member joined` event, a banned user is refused), a private room or group admits its members
// only (a non-member hears the same 403 for a room that exists and one that does not), a DM its
// two users. Refusals carry the ws error's code and words (shared/send-refusals.ts) with an HTTP
// status from ERROR_STATUS.
import { Router, type RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { createAutoMute } from '../chat/auto-mute.js';
import { parseClientFrame } from '../chat/protocol.js';
import { joinAccess } from '../chat/room-access.js';
import { createSendScript, type SendResult } from '../chat/send-script.js';
import { ATTACHMENT_ID_RE, ATTACHMENTS_MAX_PER_MESSAGE } from '../shared/attachments.js';
import type { Config } from '../shared/config.js';
import { isMessageId } from '../shared/ids.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { createMemberScript } from '../shared/member-script.js';
import { CID_RE, MAX_TEXT_CHARS } from '../shared/message.js';
import { REDIS_TIMEOUT_MS, refusalOf, scriptFailure, type Refusal } from '../shared/send-refusals.js';
import { withTimeout } from '../shared/timeout.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import { jsonObjectBody } from './validation.js';

/** Retry-After of an `overloaded` answer: the ingest backlog drains in seconds, not milliseconds. */
export const OVERLOADED_RETRY_AFTER_SEC = 5;

/**
 * The request body, for the API description. Requests are validated by parseClientFrame (the ws
 * `send` rules and codes); this schema is built from the same constants, and the e2e test checks
 * both agree.
 */
export const postMessageBody = z
  .object({
    text: z
      .string()
      .max(MAX_TEXT_CHARS)
      .describe(`the message, 1–${MAX_TEXT_CHARS} characters, not only whitespace; "" only with attachments`),
    cid: z.string().regex(CID_RE).describe('your id for this message: a retry with the same cid is answered with the same id, never stored twice'),
    replyTo: z
      .string()
      .regex(/^\d{1,16}-\d{1,16}$/)
      .refine(isMessageId)
      .nullish()
      .describe("a thread reply: the id of the thread's top-level message"),
    attachments: z
      .array(z.string().regex(ATTACHMENT_ID_RE))
      .max(ATTACHMENTS_MAX_PER_MESSAGE)
      .refine((ids) => new Set(ids).size === ids.length, 'an attachment is named twice')
      .nullish()
      .describe('upload ids from POST /api/rooms/:room/attachments, each yours, of this room and not yet sent'),
  })
  // A message of files alone has no text: '' is then fine (not whitespace, not missing).
  .refine((b) => b.text.trim() !== '' || (b.text === '' && (b.attachments?.length ?? 0) > 0), {
    message: 'text must not be empty',
    path: ['text'],
  })
  .describe('a message, as the ws `send` frame carries it (the room is the path)');

export type PostMessageBody = z.infer<typeof postMessageBody>;

export interface MessageRouterOptions {
  auth: RequestHandler;
  config: Config;
  redis: Redis;
  keys: Keys;
  log: Logger;
}

export function messageRouter({ auth, config, redis, keys, log }: MessageRouterOptions): Router {
  const send = createSendScript(redis, keys, config);
  const member = createMemberScript(redis, keys, config);
  const autoMute = createAutoMute(redis, keys, config, member, log);
  const notAllowed = methodNotAllowed(['GET', 'HEAD', 'POST']);
  const router = Router();

  router
    .route('/api/rooms/:room/messages')
    .post(auth, async (req, res) => {
      const user = authedUser(res);
      const body = jsonObjectBody(req);
      const parsed = parseClientFrame(JSON.stringify({ ...body, type: 'send', room: req.params.room }));
      if (!parsed.ok) throw httpError(parsed.error);
      const frame = parsed.frame as Extract<typeof parsed.frame, { type: 'send' }>;
      const { room, cid } = frame;

      let result: SendResult;
      try {
        const refusedJoin = await withTimeout(joinAccess(member, config, user, room), REDIS_TIMEOUT_MS);
        if (refusedJoin) throw httpError(refusedJoin);
        result = await withTimeout(send(room, user, frame.text, cid, frame.replyTo, frame.attachments), REDIS_TIMEOUT_MS);
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw httpError(scriptFailure(err, log, room, 'send'));
      }
      switch (result.kind) {
        case 'ok':
          res.status(201).json({ id: result.id, ts: result.ts });
          return;
        case 'duplicate':
          res.status(200).json({ id: result.id, ts: result.ts, duplicate: true });
          return;
        default:
          if (result.kind === 'rate_limited' && result.scope === 'room') {
            autoMute(room, user).catch((err: Error) => log.warn({ err: err.message }, 'auto-mute failed'));
          }
          throw httpError(refusalOf(result, 'send', config));
      }
    })
    // GET and HEAD are history (search-routes.ts, rooms-routes.ts, mounted after this router).
    .all((req, res, next) => (req.method === 'GET' || req.method === 'HEAD' ? next() : notAllowed(req, res, next)));

  return router;
}

/** A refusal in the ws error's words as an HTTP error: the same code, a status, Retry-After. */
function httpError(r: Refusal): ApiError {
  const retryAfter: Record<string, string> =
    r.retryAfterMs === undefined ? {} : { 'Retry-After': String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))) };
  const details = {
    ...(r.retryAfterMs === undefined ? {} : { retryAfterMs: r.retryAfterMs }),
    ...(r.limit === undefined ? {} : { limit: r.limit }),
  };
  switch (r.code) {
    case 'rate_limited':
    case 'muted':
      return new ApiError(r.code, r.message, retryAfter, details);
    case 'overloaded':
      return new ApiError('overloaded', r.message, { 'Retry-After': String(OVERLOADED_RETRY_AFTER_SEC) });
    case 'internal':
      // Redis failed or was slow: the message may or may not have been taken — the same cid
      // makes the retry safe.
      return new ApiError('unavailable', r.message);
    case 'not_joined':
    case 'limit_reached':
      // Not answers a send gets (a request joins as it sends; reactions only): a bug if seen.
      return new ApiError('internal', 'internal error');
    default:
      return new ApiError(r.code, r.message);
  }
}
