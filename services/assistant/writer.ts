// The assistant's writes, all through the chat's own scripts (the same path as a person's): the
// placeholder is a `send` (send.lua) with cid `asst-<question id>`, so a retry after kill -9 gets
// the SAME message back (the script's idempotency record), never a second one; the final answer
// is an `edit` of it (event.lua) with cid `asst-end-<question id>`, applied once whatever the
// retries. Between the two, `delta` frames go straight to the room channel (transient).
//
// Scripts run with `anyRoom` (send-script.ts): the assistant answers in a private room or group a
// member summoned it to without being a member. Its own rate limits are raised: its sends are
// paid for by the askers' quotas (quota.ts), not by the per-user send budget of one account.
import type { Redis } from 'ioredis';
import { createEventScript, type EventResult } from '../chat/event-script.js';
import { deltaFrame } from '../chat/frames.js';
import { createSendScript, type SendResult } from '../chat/send-script.js';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import { MAX_TEXT_CHARS, type ChatUser } from '../shared/message.js';
import type { Trigger } from './triggers.js';

/** The placeholder's text: what members see until the first delta (and if every attempt died). */
export const PLACEHOLDER_TEXT = 'thinking…';
const TRUNCATED = '\n\n(answer cut: too long)';

/** A write the scripts refused for a reason that waiting does not fix (no access, banned, archived, gone). */
export class CannotAnswer extends Error {}
/** Refused for now (rate, backlog): the question stays pending and is retried. */
export class RetryLater extends Error {}

export const answerCid = (trigger: Pick<Trigger, 'id'>) => `asst-${trigger.id}`;
export const finalCid = (trigger: Pick<Trigger, 'id'>) => `asst-end-${trigger.id}`;

/** The assistant's limits: its volume is the askers' (quota.ts), bounded per process by ASSISTANT_CONCURRENCY. */
export function assistantScriptConfig(config: Config): Config {
  return {
    ...config,
    RATE_LIMIT_MESSAGES: Math.max(config.RATE_LIMIT_MESSAGES, 1000),
    USER_SEND_MAX_MESSAGES: Math.max(config.USER_SEND_MAX_MESSAGES, 1_000_000),
    USER_SEND_MAX_BYTES: Math.max(config.USER_SEND_MAX_BYTES, 1_000_000_000),
    ROOM_CREATE_MAX: Math.max(config.ROOM_CREATE_MAX, 1_000_000),
  };
}

/** The final text as an edit may carry it: never empty, at most MAX_TEXT_CHARS. */
export function finalText(text: string): string {
  const t = text.trim() === '' ? '(no answer)' : text;
  return t.length <= MAX_TEXT_CHARS ? t : t.slice(0, MAX_TEXT_CHARS - TRUNCATED.length) + TRUNCATED;
}

function check(r: SendResult | EventResult, what: string): { id: string } {
  switch (r.kind) {
    case 'ok':
    case 'duplicate':
      return { id: r.id };
    case 'rate_limited':
    case 'overloaded':
      throw new RetryLater(`${what}: ${r.kind}`);
    default:
      throw new CannotAnswer(`${what}: ${r.kind}`);
  }
}

export interface Writer {
  /** Posts (or finds again) the placeholder; its id. */
  placeholder(trigger: Trigger): Promise<string>;
  /** Posts a whole answer at once (a refusal line); its id. */
  post(trigger: Trigger, text: string): Promise<string>;
  /** The answer so far, live (best effort). */
  delta(trigger: Trigger, answerId: string, text: string): Promise<void>;
  /** The final text, stored once. */
  finish(trigger: Trigger, answerId: string, text: string): Promise<void>;
}

export function createWriter(redis: Redis, keys: Keys, config: Config, assistant: ChatUser): Writer {
  const scriptConfig = assistantScriptConfig(config);
  const send = createSendScript(redis, keys, scriptConfig, { anyRoom: true });
  const event = createEventScript(redis, keys, scriptConfig, { anyRoom: true });
  const post = async (trigger: Trigger, text: string) =>
    check(await send(trigger.room, assistant, finalText(text), answerCid(trigger), trigger.replyTo), 'answer').id;
  return {
    placeholder: (trigger) => post(trigger, PLACEHOLDER_TEXT),
    post,
    async delta(trigger, answerId, text) {
      await redis.spublish(keys.roomChannel(trigger.room), deltaFrame(trigger.room, answerId, text, trigger.asker.id));
    },
    async finish(trigger, answerId, text) {
      const r = await event(trigger.room, assistant, finalCid(trigger), { kind: 'edit', target: answerId, text: finalText(text) });
      // 'unchanged' cannot happen for an edit; 'not_found': deleted meanwhile (or past the change window)
      check(r, 'final edit');
    },
  };
}
