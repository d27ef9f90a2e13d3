// Why a message or a change was not accepted, in the words its sender hears: the stable code
// (the ws `error` frame's), a message saying what to do, and when to retry. A message comes in by
// two doors — a ws `send` frame (services/chat/changes.ts wraps the refusal in an `error` frame)
// and POST /api/rooms/:room/messages (services/users/message-routes.ts gives it an HTTP status) —
// and both run the same send script, so both answer from this one table: a bot and a browser
// hear the same reason for the same refusal.
import type { EventResult } from '../chat/event-script.js';
import type { ErrorCode, SendLimit } from '../chat/protocol.js';
import { rateLimitMessage, type SendResult } from '../chat/send-script.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { MAX_REACTION_EMOJI } from './message.js';
import { ReplicaAckError } from './replica-ack.js';

/** A Redis call taking longer than this fails the send or change with `internal`. */
export const REDIS_TIMEOUT_MS = 5_000;

export interface Refusal {
  code: ErrorCode;
  message: string;
  /** rate_limited, muted: when a retry can succeed. */
  retryAfterMs?: number;
  /** rate_limited: which limit (connection.ts counts `room` refusals toward auto-mute.ts). */
  limit?: SendLimit;
}

export type ChangeType = 'send' | 'edit' | 'delete' | 'react';

/** A script's answer that is not an acceptance. */
export type RefusedResult = Exclude<SendResult | EventResult, { kind: 'ok' | 'duplicate' | 'unchanged' }>;

type RefusalConfig = Parameters<typeof rateLimitMessage>[1] & Pick<Config, 'MESSAGE_CHANGE_WINDOW_SEC'>;

const days = (sec: number) => `${Math.round(sec / 86_400)} days`;

export function refusalOf(result: RefusedResult, type: ChangeType, config: RefusalConfig): Refusal {
  switch (result.kind) {
    case 'rate_limited':
      return { code: 'rate_limited', message: rateLimitMessage(result.scope, config), retryAfterMs: result.retryAfterMs, limit: result.scope };
    case 'overloaded':
      return { code: 'overloaded', message: 'the server is busy, retry later' };
    case 'bad_parent':
      return result.reason === 'not_found'
        ? { code: 'not_found', message: `the message replied to is unknown, deleted, or older than ${days(config.MESSAGE_CHANGE_WINDOW_SEC)}` }
        : { code: 'bad_request', message: "reply to the thread's top-level message: threads are one level deep" };
    case 'bad_attachment':
      return { code: 'bad_attachment', message: `attachment ${result.id} is not an upload of yours to this room that is still unsent (upload it again)` };
    case 'not_found':
      return { code: 'not_found', message: `message not found: unknown, deleted, or older than ${days(config.MESSAGE_CHANGE_WINDOW_SEC)}` };
    case 'forbidden':
      return {
        code: 'forbidden',
        message: type === 'edit' ? 'only its author can edit this message' : "only its author or the room's owner and admins can delete this message",
      };
    case 'no_access':
      return { code: 'forbidden', message: 'you are not a member of this room' };
    case 'banned':
      return { code: 'forbidden', message: 'you are banned from this room' };
    case 'archived':
      return { code: 'forbidden', message: 'this room is archived: it is read only' };
    case 'muted':
      return { code: 'muted', message: `you are muted in this room for ${Math.ceil(result.retryAfterMs / 1000)} s`, retryAfterMs: result.retryAfterMs };
    case 'limit':
      return { code: 'limit_reached', message: `at most ${MAX_REACTION_EMOJI} different reactions per message` };
  }
}

/** The refusal for a script call that threw or timed out; logged here with the room and the change's type. */
export function scriptFailure(err: unknown, log: Logger, room: string, type: ChangeType): Refusal {
  if (err instanceof ReplicaAckError) {
    // Written on the master, not yet on enough replicas: not an ack (a failover now would lose
    // it). The retry with the same cid is a `dup` that waits for the replicas again.
    log.warn({ err: err.message, room, type }, 'change not confirmed by the replicas in time');
    return { code: 'overloaded', message: 'not yet confirmed by enough Redis replicas: retry with the same cid' };
  }
  log.error({ err: (err as Error).message, room, type }, 'change script failed');
  const what = type === 'send' ? 'message' : 'change';
  return { code: 'internal', message: `${what} not accepted (storage unavailable), retry with the same cid` };
}
