// The client frames that change a room — send, edit, delete, react — each turned into ONE script
// call (send.lua, event.lua) and the one frame that answers it: an ack, or an error naming why.
// connection.ts checks the room is joined and queues the frames; everything about what a change
// may do and how a refusal reads is here.
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import { MAX_REACTION_EMOJI, type ChatUser } from '../shared/message.js';
import { ReplicaAckError } from '../shared/replica-ack.js';
import { withTimeout } from '../shared/timeout.js';
import type { EventScript, EventResult } from './event-script.js';
import { ackFrame, errorFrame, unchangedAckFrame } from './frames.js';
import type { ClientFrame, ErrorCode, SendLimit } from './protocol.js';
import { rateLimitMessage, type SendResult, type SendScript } from './send-script.js';

/** A Redis call taking longer than this fails the frame with `internal`. */
export const REDIS_TIMEOUT_MS = 5_000;

export type ChangeFrame = Extract<ClientFrame, { type: 'send' | 'edit' | 'delete' | 'react' }>;

export interface ChangeDeps {
  config: Config;
  log: Logger;
  send: SendScript;
  event: EventScript;
}

export interface ChangeOutcome {
  /** The answer to the client: ack or error. */
  frame: string;
  /** Set when the answer is an error (metrics). */
  error?: ErrorCode;
  /** Set when refused by a rate limit: which one (connection.ts counts `room` refusals toward auto-mute.ts). */
  rateLimited?: SendLimit;
}

const days = (sec: number) => `${Math.round(sec / 86_400)} days`;

function refusal(code: ErrorCode, message: string, cid: string): ChangeOutcome {
  return { frame: errorFrame(code, message, cid), error: code };
}

/** Runs the frame's script; never throws (a failed or slow Redis call is an `internal` error). */
export async function acceptChange(deps: ChangeDeps, user: ChatUser, frame: ChangeFrame): Promise<ChangeOutcome> {
  const { cid } = frame;
  let result: SendResult | EventResult;
  try {
    const call: Promise<SendResult | EventResult> =
      frame.type === 'send'
        ? deps.send(frame.room, user, frame.text, cid, frame.replyTo, frame.attachments)
        : deps.event(
            frame.room,
            user,
            cid,
            frame.type === 'edit'
              ? { kind: 'edit', target: frame.id, text: frame.text }
              : frame.type === 'delete'
                ? { kind: 'delete', target: frame.id }
                : { kind: 'react', target: frame.id, emoji: frame.emoji, on: frame.on },
          );
    result = await withTimeout(call, REDIS_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof ReplicaAckError) {
      // Written on the master, not yet on enough replicas: not an ack (a failover now would lose
      // it). The retry with the same cid is a `dup` that waits for the replicas again.
      deps.log.warn({ err: err.message, room: frame.room, type: frame.type }, 'change not confirmed by the replicas in time');
      return refusal('overloaded', 'not yet confirmed by enough Redis replicas: retry with the same cid', cid);
    }
    deps.log.error({ err: (err as Error).message, room: frame.room, type: frame.type }, 'change script failed');
    const what = frame.type === 'send' ? 'message' : 'change';
    return refusal('internal', `${what} not accepted (storage unavailable), retry with the same cid`, cid);
  }
  const window = days(deps.config.MESSAGE_CHANGE_WINDOW_SEC);
  switch (result.kind) {
    case 'ok':
      return { frame: ackFrame(cid, result.id, result.ts) };
    case 'duplicate':
      return { frame: ackFrame(cid, result.id, result.ts, true) };
    case 'unchanged':
      return { frame: unchangedAckFrame(cid) };
    case 'rate_limited':
      return {
        frame: errorFrame('rate_limited', rateLimitMessage(result.scope, deps.config), cid, result.retryAfterMs, result.scope),
        error: 'rate_limited',
        rateLimited: result.scope,
      };
    case 'overloaded':
      return refusal('overloaded', 'the server is busy, retry later', cid);
    case 'bad_parent':
      return result.reason === 'not_found'
        ? refusal('not_found', `the message replied to is unknown, deleted, or older than ${window}`, cid)
        : refusal('bad_request', 'reply to the thread\'s top-level message: threads are one level deep', cid);
    case 'bad_attachment':
      return refusal('bad_attachment', `attachment ${result.id} is not an upload of yours to this room that is still unsent (upload it again)`, cid);
    case 'not_found':
      return refusal('not_found', `message not found: unknown, deleted, or older than ${window}`, cid);
    case 'forbidden':
      return refusal(
        'forbidden',
        frame.type === 'edit' ? 'only its author can edit this message' : "only its author or the room's owner and admins can delete this message",
        cid,
      );
    case 'no_access':
      return refusal('forbidden', 'you are not a member of this room', cid);
    case 'banned':
      return refusal('forbidden', 'you are banned from this room', cid);
    case 'archived':
      return refusal('forbidden', 'this room is archived: it is read only', cid);
    case 'muted':
      return {
        frame: errorFrame('muted', `you are muted in this room for ${Math.ceil(result.retryAfterMs / 1000)} s`, cid, result.retryAfterMs),
        error: 'muted',
      };
    case 'limit':
      return refusal('limit_reached', `at most ${MAX_REACTION_EMOJI} different reactions per message`, cid);
  }
}
