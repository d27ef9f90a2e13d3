// The `openai` provider (issue 17): any OpenAI-compatible Chat Completions endpoint with
// streaming (OpenAI, Groq, Ollama, vLLM, llama.cpp server), through the official SDK (6.x: 7.x
// needs Node 22). The SDK does the protocol (HTTP, SSE framing); this module maps turns to
// messages, assembles tool calls from their deltas, watches for stalls, and turns every failure
// into a ProviderError with a message of its OWN — upstream error text can quote the API key
// ("Incorrect API key provided: sk-…"), so it is never passed on, nor kept as a `cause`.
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { ProviderError, type AssistantProvider, type CompletionRequest, type ProviderEvent, type ToolCall, type Turn, type Usage } from './provider.js';

export interface OpenAIProviderOptions {
  /** e.g. https://api.openai.com/v1, https://api.groq.com/openai/v1, http://localhost:11434/v1 */
  baseURL: string;
  /** May be empty for servers that need none (Ollama, llama.cpp); never logged, never in an error. */
  apiKey: string;
  model: string;
  /** Until the response headers arrive (the SDK's own timeout). */
  timeoutMs: number;
  /** Longest silence allowed between two chunks once streaming: a stalled upstream becomes 'timeout'. */
  idleTimeoutMs: number;
}

export function createOpenAIProvider(opts: OpenAIProviderOptions): AssistantProvider {
  const client = new OpenAI({
    baseURL: opts.baseURL,
    // The SDK refuses to start without a key; keyless servers ignore the header.
    apiKey: opts.apiKey || 'none',
    timeout: opts.timeoutMs,
    // Retrying is the caller's decision (a retried stream would repeat text already shown).
    maxRetries: 0,
    // The SDK would log to console; our failures are reported through ProviderError instead.
    logLevel: 'off',
    // Explicit, so OPENAI_ORG_ID / OPENAI_PROJECT_ID in the environment are not sent anywhere.
    organization: null,
    project: null,
  });
  return { name: 'openai', complete: (req) => streamCompletion(client, opts, req) };
}

async function* streamCompletion(client: OpenAI, opts: OpenAIProviderOptions, req: CompletionRequest): AsyncGenerator<ProviderEvent> {
  if (req.signal.aborted) return;
  const idle = new AbortController();
  const signal = AbortSignal.any([req.signal, idle.signal]);
  let timer: NodeJS.Timeout | undefined;
  // Only the wait for the NEXT chunk counts as silence, not the time our consumer spends on a yield.
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(), opts.idleTimeoutMs);
  };
  const disarm = () => clearTimeout(timer);

  let stream: AsyncIterable<ChatCompletionChunk>;
  try {
    stream = await client.chat.completions.create(
      {
        model: opts.model,
        messages: req.turns.map(toMessage),
        ...(req.tools.length ? { tools: req.tools.map(toTool) } : {}),
        stream: true,
        max_tokens: req.maxTokens,
        stream_options: { include_usage: true },
      },
      { signal },
    );
  } catch (err) {
    if (req.signal.aborted) return;
    throw toProviderError(err);
  }

  const pending = new Map<number, { id: string; name: string; args: string }>();
  let callsSent = false;
  let finish: string | null = null;
  let usage: Usage | undefined;
  const takeCalls = (): ToolCall[] => {
    callsSent = true;
    return [...pending.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([index, c]) => ({ id: c.id || `call_${index}`, name: c.name, arguments: c.args }));
  };
  try {
    arm();
    for await (const chunk of stream) {
      disarm();
      if (req.signal.aborted) return;
      if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens ?? 0, completionTokens: chunk.usage.completion_tokens ?? 0 };
      for (const choice of chunk.choices ?? []) {
        if (choice.index !== 0) continue; // we ask for one choice; ignore any other
        const delta = choice.delta;
        if (delta?.content) {
          yield { type: 'text', text: delta.content };
          if (req.signal.aborted) return;
        }
        for (const d of delta?.tool_calls ?? []) {
          const call = pending.get(d.index) ?? { id: '', name: '', args: '' };
          if (d.id) call.id = d.id;
          // Names arrive whole from OpenAI, in pieces from some compatible servers.
          if (d.function?.name) call.name += d.function.name;
          if (d.function?.arguments) call.args += d.function.arguments;
          pending.set(d.index, call);
        }
        if (choice.finish_reason) {
          finish = choice.finish_reason;
          if (pending.size && !callsSent) yield { type: 'tool_calls', calls: checked(takeCalls()) };
          if (req.signal.aborted) return;
        }
      }
      arm();
    }
  } catch (err) {
    if (req.signal.aborted) return;
    if (idle.signal.aborted) throw stalled(opts);
    throw err instanceof ProviderError ? err : toProviderError(err);
  } finally {
    disarm();
  }
  // An abort mid-stream does not throw in the SDK: the loop just ends.
  if (req.signal.aborted) return;
  if (idle.signal.aborted) throw stalled(opts);
  if (finish === null) throw new ProviderError('bad_response', "The assistant's provider stopped in the middle of its answer.");
  yield { type: 'done', ...(usage ? { usage } : {}) };
}

function checked(calls: ToolCall[]): ToolCall[] {
  if (calls.some((c) => !c.name)) throw new ProviderError('bad_response', "The assistant's provider asked for a tool without naming it.");
  return calls;
}

const stalled = (opts: OpenAIProviderOptions) =>
  new ProviderError('timeout', `The assistant's provider stopped sending for ${Math.round(opts.idleTimeoutMs / 100) / 10} s.`);

function toMessage(turn: Turn): ChatCompletionMessageParam {
  switch (turn.role) {
    case 'tool':
      return { role: 'tool', tool_call_id: turn.toolCallId, content: turn.content };
    case 'assistant':
      if (turn.toolCalls?.length) {
        return {
          role: 'assistant',
          content: turn.content || null,
          tool_calls: turn.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
        };
      }
      return { role: 'assistant', content: turn.content };
    default:
      return { role: turn.role, content: turn.content };
  }
}

function toTool(spec: CompletionRequest['tools'][number]): ChatCompletionTool {
  return { type: 'function', function: { name: spec.name, description: spec.description, parameters: spec.parameters } };
}

/**
 * Every SDK/transport failure as a ProviderError. The messages are written here, never copied:
 * neither the SDK's text nor the upstream body reaches the user or the logs.
 */
export function toProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof OpenAI.APIConnectionTimeoutError) return new ProviderError('timeout', "The assistant's provider did not answer in time.");
  if (err instanceof OpenAI.APIConnectionError) return new ProviderError('unavailable', "The assistant's provider cannot be reached.");
  if (err instanceof OpenAI.APIError) {
    const status = err.status;
    if (status === 401 || status === 403) return new ProviderError('auth', "The assistant's provider refused its credentials.");
    if (status === 429) return new ProviderError('rate_limited', "The assistant's provider is rate limiting us; try again in a moment.");
    if (status !== undefined && status >= 500) return new ProviderError('unavailable', `The assistant's provider is unavailable (HTTP ${status}).`);
    if (status !== undefined) return new ProviderError('bad_response', `The assistant's provider rejected the request (HTTP ${status}).`);
    // an `error` object inside the stream
    return new ProviderError('unavailable', "The assistant's provider failed in the middle of its answer.");
  }
  if (err instanceof SyntaxError) return new ProviderError('bad_response', "The assistant's provider sent an answer that cannot be read.");
  // undici's "terminated" when the socket closes mid-body, and anything else from the transport
  return new ProviderError('unavailable', "The connection to the assistant's provider broke.");
}
