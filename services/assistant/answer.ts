// The answer loop (issue 17) the assistant worker calls once per trigger message: ask the
// provider, stream its text out as it comes, run the tools it asks for through the registry and
// hand the results back, at most `maxToolRounds` times, and end with one outcome. It never
// throws: a provider failure is 'failed' with the provider's short message, an abort (the stop
// button, shutdown) is 'stopped'; both keep the text produced so far, which the worker stores.
import { ProviderError, type AssistantProvider, type ToolCall, type Turn, type Usage } from './provider.js';
import type { ToolContext, ToolRegistry } from './tools.js';
import type { Logger } from '../shared/logger.js';

export interface AnswerOptions {
  provider: AssistantProvider;
  tools: ToolRegistry;
  turns: Turn[];
  /** The tools' context; its signal is replaced by `signal`. */
  ctx: Omit<ToolContext, 'signal'>;
  signal: AbortSignal;
  /** Rounds of tool calls allowed; after the last one the model is asked again WITHOUT tools. */
  maxToolRounds: number;
  /** Per completion (each round is one). */
  maxTokens: number;
  /** Each piece of text as it arrives (the worker throttles and publishes it). */
  onText(delta: string): void;
  /** For failures that are bugs (not ProviderErrors): the user only sees a generic line. */
  log?: Pick<Logger, 'error'>;
}

export interface AnswerResult {
  text: string;
  status: 'done' | 'stopped' | 'failed';
  /** 'failed' only: short, user-presentable. */
  error?: string;
  /** 'failed' only: the ProviderError's kind, or 'internal' (a bug) — for metrics. */
  errorKind?: string;
  usage: Usage;
  /** Tool calls run (all rounds). */
  toolCalls: number;
}

/** Appended when the model still asks for tools after the last round allowed. */
export const TOOL_CAP_NOTE = '(I stopped using tools: too many rounds.)';
const INTERNAL_ERROR = 'The assistant failed unexpectedly.';

export async function answer(opts: AnswerOptions): Promise<AnswerResult> {
  const { provider, tools, signal } = opts;
  const turns = [...opts.turns];
  const usage: Usage = { promptTokens: 0, completionTokens: 0 };
  let text = '';
  let toolCalls = 0;
  const out = (delta: string) => {
    text += delta;
    try {
      opts.onText(delta);
    } catch {
      // A failed live update must not lose the answer: the final edit carries the whole text.
    }
  };
  const result = (status: AnswerResult['status'], error?: string, errorKind?: string): AnswerResult =>
    error === undefined ? { text, status, usage, toolCalls } : { text, status, error, errorKind: errorKind ?? 'internal', usage, toolCalls };

  try {
    for (let round = 0; ; round++) {
      if (signal.aborted) return result('stopped');
      const toolsNow = round < opts.maxToolRounds ? tools.specs() : [];
      // Text of earlier rounds stays; a new round's text starts on a new paragraph.
      let roundText = '';
      let calls: ToolCall[] = [];
      let reportedUsage = false;
      for await (const ev of provider.complete({ turns, tools: toolsNow, signal, maxTokens: opts.maxTokens })) {
        if (ev.type === 'text') {
          if (!ev.text) continue;
          if (roundText === '' && text !== '') out('\n\n');
          roundText += ev.text;
          out(ev.text);
        } else if (ev.type === 'tool_calls') {
          calls = ev.calls;
        } else if (ev.usage) {
          usage.promptTokens += ev.usage.promptTokens;
          usage.completionTokens += ev.usage.completionTokens;
          reportedUsage = true;
        }
      }
      if (signal.aborted) return result('stopped');
      // Servers that send no usage still count against quotas: ~4 characters a token.
      if (!reportedUsage) {
        usage.promptTokens += Math.ceil(turns.reduce((n, t) => n + t.content.length, 0) / 4);
        usage.completionTokens += Math.ceil((roundText.length + calls.reduce((n, c) => n + c.arguments.length, 0)) / 4);
      }
      if (calls.length === 0) return result('done');
      if (toolsNow.length === 0) {
        // Asked for tools it was not offered (the cap, or a model that ignores the list).
        out(`${text ? '\n\n' : ''}${TOOL_CAP_NOTE}`);
        return result('done');
      }
      turns.push({ role: 'assistant', content: roundText, toolCalls: calls });
      const ctx: ToolContext = { ...opts.ctx, signal };
      const results = await Promise.all(calls.map((call) => tools.run(call, ctx)));
      toolCalls += calls.length;
      calls.forEach((call, i) => turns.push({ role: 'tool', toolCallId: call.id, content: results[i]!.content }));
    }
  } catch (err) {
    if (signal.aborted) return result('stopped');
    if (err instanceof ProviderError) return result('failed', err.message, err.kind);
    opts.log?.error({ err, provider: provider.name }, 'assistant answer failed');
    return result('failed', INTERNAL_ERROR);
  }
}
