// The client frames that change a room — send, edit, delete, react — each turned into ONE script
// call (send.lua, event.lua) and the one frame that answers it: an ack, or an error naming why.
// connection.ts checks the room is joined and queues the frames. How a refusal reads is
// shared/send-refusals.ts: POST /api/rooms/:room/messages runs the same send script and answers
// from the same words.
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { ChatUser } from '../shared/message.js';
import { REDIS_TIMEOUT_MS, refusalOf, scriptFailure, type Refusal } from '../shared/send-refusals.js';
import { withTimeout } from '../shared/timeout.js';
import type { EventScript, EventResult } from './event-script.js';
import { ackFrame, errorFrame, unchangedAckFrame } from './frames.js';
import type { ClientFrame, ErrorCode, SendLimit } from './protocol.js';
import type { SendResult, SendScript } from './send-script.js';

export { REDIS_TIMEOUT_MS };

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

function refused(r: Refusal, cid: string): ChangeOutcome {
  const frame = errorFrame(r.code, r.message, cid, r.retryAfterMs, r.limit);
  return r.limit === undefined ? { frame, error: r.code } : { frame, error: r.code, rateLimited: r.limit };
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
    return refused(scriptFailure(err, deps.log, frame.room, frame.type), cid);
  }
  switch (result.kind) {
    case 'ok':
      return { frame: ackFrame(cid, result.id, result.ts) };
    case 'duplicate':
      return { frame: ackFrame(cid, result.id, result.ts, true) };
    case 'unchanged':
      return { frame: unchangedAckFrame(cid) };
    default:
      return refused(refusalOf(result, frame.type, deps.config), cid);
  }
}
