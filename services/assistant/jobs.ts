// One answer per question, across crashes. The question's ingest entry is acked only when its
// answer is finished, so a worker killed mid-answer leaves it pending: its restart (own pending)
// or another worker (claim after INGEST_CLAIM_IDLE_MS) takes it up again. A small Redis hash per
// question (keys.assistantJob) says what happened before: `done` → just ack; an attempt that
// died → answer again, once (the placeholder is found again by its cid, the final edit applies
// once by its own); a second death → the placeholder is completed with a failure line. The
// answer's asker is kept by answer id for the stop route (users service).
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import type { Trigger } from './triggers.js';

/** Attempts at answering one question before it is marked failed. */
export const MAX_ATTEMPTS = 2;
const JOB_TTL_SEC = 86_400;
/** The stop route accepts a stop this long after the answer started. */
const ANSWER_TTL_SEC = 3_600;

export type JobStart = { go: 'answer'; attempt: number } | { go: 'done' } | { go: 'give_up'; answerId?: string };

export interface Jobs {
  /** Counts an attempt at the question and says what to do. */
  begin(trigger: Trigger): Promise<JobStart>;
  /** The placeholder is up: remember it (and who may stop it). */
  started(trigger: Trigger, answerId: string): Promise<void>;
  done(trigger: Trigger): Promise<void>;
}

export function createJobs(redis: Redis, keys: Pick<Keys, 'assistantJob' | 'assistantAnswer'>): Jobs {
  return {
    async begin(trigger) {
      const key = keys.assistantJob(trigger.room, trigger.id);
      const replies = await redis.multi().hincrby(key, 'attempts', 1).hmget(key, 'state', 'answer').expire(key, JOB_TTL_SEC).exec();
      if (!replies || replies.some(([err]) => err)) throw new Error('assistant job transaction failed');
      const attempt = Number(replies[0]![1]);
      const [state, answer] = replies[1]![1] as [string | null, string | null];
      if (state === 'done') return { go: 'done' };
      if (attempt > MAX_ATTEMPTS) return answer ? { go: 'give_up', answerId: answer } : { go: 'give_up' };
      return { go: 'answer', attempt };
    },
    async started(trigger, answerId) {
      await redis
        .multi()
        .hset(keys.assistantJob(trigger.room, trigger.id), 'answer', answerId)
        .set(keys.assistantAnswer(trigger.room, answerId), trigger.asker.id, 'EX', ANSWER_TTL_SEC)
        .exec();
    },
    async done(trigger) {
      await redis.hset(keys.assistantJob(trigger.room, trigger.id), 'state', 'done');
    },
  };
}
