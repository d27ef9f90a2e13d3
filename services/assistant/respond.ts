// One question, answered: the job's record says whether to answer (jobs.ts), the quota whether
// the asker may (quota.ts), then the placeholder goes up, the answer streams into the room as
// `delta` frames (at most one per ASSISTANT_DELTA_INTERVAL_MS), and the final text is stored as
// one edit of the placeholder: the answer, the answer so far marked stopped (the asker's stop
// button), or a short error line (provider failure, timeout). The API key never reaches any of
// these texts: provider errors are the provider's own short, key-free messages (openai-provider.ts).
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { ChatUser } from '../shared/message.js';
import { answer } from './answer.js';
import { conversationTurns } from './context.js';
import type { Jobs } from './jobs.js';
import type { AssistantMetrics } from './metrics.js';
import type { AssistantProvider } from './provider.js';
import { refusalText, type Quota } from './quota.js';
import type { StopListener } from './stops.js';
import type { ToolRegistry } from './tools.js';
import type { Trigger } from './triggers.js';
import { CannotAnswer, type Writer } from './writer.js';

export const STOPPED_NOTE = '(stopped)';
export const GAVE_UP_TEXT = 'Sorry, I could not answer this: I was interrupted twice while answering.';
const TOO_LONG = 'The answer took too long.';

export interface ResponderDeps {
  config: Pick<Config, 'ASSISTANT_TIMEOUT_MS' | 'ASSISTANT_MAX_TOOL_ROUNDS' | 'ASSISTANT_MAX_TOKENS' | 'ASSISTANT_CONTEXT_MESSAGES' | 'ASSISTANT_DELTA_INTERVAL_MS'>;
  log: Logger;
  redis: Redis;
  keys: Keys;
  assistant: ChatUser;
  provider: AssistantProvider;
  tools: ToolRegistry;
  writer: Writer;
  jobs: Jobs;
  quota: Quota;
  stops: StopListener;
  metrics: AssistantMetrics;
}

/** Thrown when shutdown interrupted an answer: its entry stays pending, to be answered again. */
export class Interrupted extends Error {}

/**
 * Calls `publish` with the latest text at most once per `intervalMs` (the first at once), and a
 * last time for text that arrived after the previous call. `stop()` cancels what is scheduled.
 */
export function throttled(intervalMs: number, publish: (text: string) => void): { push(text: string): void; stop(): void } {
  let last = 0;
  let latest = '';
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    timer = null;
    last = Date.now();
    publish(latest);
  };
  return {
    push(text) {
      latest = text;
      if (timer) return;
      const wait = last + intervalMs - Date.now();
      if (wait <= 0) flush();
      else timer = setTimeout(flush, wait);
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

export async function respond(deps: ResponderDeps, trigger: Trigger, shutdown: AbortSignal): Promise<void> {
  const { log, writer, jobs, quota, metrics } = deps;
  try {
    const job = await jobs.begin(trigger);
    if (job.go === 'done') return;
    if (job.go === 'give_up') {
      const id = job.answerId ?? (await writer.placeholder(trigger));
      await writer.finish(trigger, id, GAVE_UP_TEXT);
      await jobs.done(trigger);
      metrics.requests.inc({ outcome: 'failed' });
      log.warn({ room: trigger.room, question: trigger.id }, 'assistant gave up on a question after repeated interruptions');
      return;
    }
    if (job.attempt === 1) {
      const verdict = await quota.admit(trigger.asker.id);
      if (!verdict.ok) {
        await writer.post(trigger, refusalText(trigger.asker.name, verdict));
        await jobs.done(trigger);
        metrics.quotaRefusals.inc({ limit: verdict.limit });
        metrics.requests.inc({ outcome: 'refused' });
        return;
      }
    }
    const id = await writer.placeholder(trigger);
    await jobs.started(trigger, id);
    await answerInto(deps, trigger, id, shutdown);
    await jobs.done(trigger);
  } catch (err) {
    if (!(err instanceof CannotAnswer)) throw err;
    // No access any more (kicked meanwhile, room archived, the placeholder deleted): nothing to retry.
    log.info({ room: trigger.room, question: trigger.id, reason: err.message }, 'assistant cannot answer here');
    await jobs.done(trigger);
    metrics.requests.inc({ outcome: 'skipped' });
  }
}

async function answerInto(deps: ResponderDeps, trigger: Trigger, id: string, shutdown: AbortSignal): Promise<void> {
  const { config, log, redis, keys, assistant, provider, tools, writer, stops, quota, metrics } = deps;
  const stop = stops.watch(trigger.room, id);
  const overall = AbortSignal.timeout(config.ASSISTANT_TIMEOUT_MS * 10);
  const signal = AbortSignal.any([stop.signal, shutdown, overall]);
  let text = '';
  let firstAt: number | undefined;
  const live = throttled(config.ASSISTANT_DELTA_INTERVAL_MS, (t) => {
    writer.delta(trigger, id, t).catch((err: unknown) => log.warn({ err }, 'assistant delta not published'));
  });
  try {
    const turns = await conversationTurns(redis, keys, trigger, assistant, config.ASSISTANT_CONTEXT_MESSAGES);
    const result = await answer({
      provider,
      tools,
      turns,
      ctx: { askerId: trigger.asker.id, room: trigger.room, now: Date.now, answerPrivate: trigger.private },
      signal,
      maxToolRounds: config.ASSISTANT_MAX_TOOL_ROUNDS,
      maxTokens: config.ASSISTANT_MAX_TOKENS,
      log,
      onText(delta) {
        if (firstAt === undefined) {
          firstAt = Date.now();
          metrics.firstToken.observe(Math.max(0, firstAt - trigger.ts) / 1000);
        }
        text += delta;
        live.push(text);
      },
    });
    live.stop();
    if (shutdown.aborted && !stop.signal.aborted) throw new Interrupted('shutting down');
    let final = result.text;
    let outcome: string = result.status;
    if (result.status === 'stopped' && overall.aborted && !stop.signal.aborted) {
      outcome = 'failed';
      metrics.providerErrors.inc({ kind: 'timeout' });
      final = `${final ? `${final}\n\n` : ''}⚠ ${TOO_LONG}`;
    } else if (result.status === 'stopped') {
      final = `${final ? `${final}\n\n` : ''}${STOPPED_NOTE}`;
    } else if (result.status === 'failed') {
      metrics.providerErrors.inc({ kind: result.errorKind ?? 'internal' });
      final = `${final ? `${final}\n\n` : ''}⚠ ${result.error ?? 'The assistant failed.'}`;
    }
    await writer.finish(trigger, id, final);
    await quota.charge(trigger.asker.id, result.usage.promptTokens + result.usage.completionTokens);
    metrics.tokens.inc({ kind: 'prompt' }, result.usage.promptTokens);
    metrics.tokens.inc({ kind: 'completion' }, result.usage.completionTokens);
    metrics.toolCalls.inc(result.toolCalls);
    metrics.requests.inc({ outcome });
  } finally {
    live.stop();
    stop.forget();
  }
}
