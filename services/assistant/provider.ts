// The assistant's provider port (issue 17; DESIGN.md "Assistant"): what the answer loop
// (answer.ts) needs from a language model, and nothing more. Two implementations share one
// contract suite (provider.contract.ts): `offline` (offline-provider.ts, the default,
// deterministic, no network) and `openai` (openai-provider.ts, any OpenAI-compatible Chat
// Completions endpoint).
//
// What every provider guarantees:
// - `complete` yields `text` pieces and/or ONE `tool_calls` event (complete calls: the arguments
//   are whole JSON text), then `done`.
// - An abort of `req.signal` makes it stop yielding and return: no throw, no `done` needed. The
//   caller tells "stopped" from "finished" by its own signal.
// - Any failure is a thrown ProviderError whose message is short, fit to show in the room, and
//   never contains the API key (nor the upstream's own error text, which may quote it).

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as JSON text, as the model wrote them (the tool registry validates them). */
  arguments: string;
}

export type Turn =
  | { role: 'system' | 'user' | 'assistant'; content: string; /** assistant only */ toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; content: string };

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export type ProviderEvent =
  /** A piece of the answer, as generated. */
  | { type: 'text'; text: string }
  /** The model asks for tools (complete calls); at most one such event per completion. */
  | { type: 'tool_calls'; calls: ToolCall[] }
  | { type: 'done'; usage?: Usage };

export interface CompletionRequest {
  turns: Turn[];
  /** The tools the model may call now; [] = answer with text only. */
  tools: ToolSpec[];
  signal: AbortSignal;
  maxTokens: number;
}

export interface AssistantProvider {
  readonly name: 'offline' | 'openai';
  complete(req: CompletionRequest): AsyncIterable<ProviderEvent>;
}

export type ProviderErrorKind = 'timeout' | 'unavailable' | 'rate_limited' | 'bad_response' | 'auth';

/** A provider failure. `message` is shown to users as is: keep it short, never quote upstream text. */
export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}
