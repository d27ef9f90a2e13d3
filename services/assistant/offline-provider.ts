// The `offline` provider (the default; issue 17): a deterministic stand-in for a language model,
// useful with no network and the reference behaviour of the provider contract suite. It reads
// the turns the way a model would get them (a system turn, the room's recent messages as `user`
// turns "name: text", the asking message last; after a tool round the assistant's tool calls and
// the `tool` results) and understands four requests:
//   help (and anything it does not understand) · summarise [N] · search|find <words> · time [zone]
// Search and time go through the tools (only when offered in req.tools), exactly like a model.
// The answer is streamed in word groups so streaming is exercised. Usage is counted in WORDS
// (whitespace-separated pieces): prompt = words of every turn, completion = words generated.
import type { AssistantProvider, CompletionRequest, ProviderEvent, ToolCall, ToolSpec, Turn } from './provider.js';
import { summarise, type ContextMessage } from './offline-summary.js';
import { countWords, excerpt } from './text.js';

export interface OfflineProviderOptions {
  /** Words per streamed `text` event (default 3). */
  wordsPerChunk?: number;
  /** Pause between `text` events (default 0; tests use it to abort mid-answer). */
  chunkDelayMs?: number;
}

export function createOfflineProvider(opts: OfflineProviderOptions = {}): AssistantProvider {
  const wordsPerChunk = Math.max(1, opts.wordsPerChunk ?? 3);
  const delayMs = opts.chunkDelayMs ?? 0;
  return {
    name: 'offline',
    async *complete(req: CompletionRequest): AsyncGenerator<ProviderEvent> {
      if (req.signal.aborted) return;
      const promptTokens = req.turns.reduce((n, t) => n + countWords(t.content), 0);
      const reply = replyTo(req.turns, req.tools);
      if ('calls' in reply) {
        yield { type: 'tool_calls', calls: reply.calls };
        const completionTokens = reply.calls.reduce((n, c) => n + countWords(c.arguments) + 1, 0);
        yield { type: 'done', usage: { promptTokens, completionTokens } };
        return;
      }
      const words = reply.text.match(/\S+\s*/g) ?? [];
      const kept = words.slice(0, Math.max(1, req.maxTokens));
      for (let i = 0; i < kept.length; i += wordsPerChunk) {
        if (i > 0 && delayMs > 0) await sleep(delayMs, req.signal);
        if (req.signal.aborted) return;
        yield { type: 'text', text: kept.slice(i, i + wordsPerChunk).join('') };
      }
      if (req.signal.aborted) return;
      yield { type: 'done', usage: { promptTokens, completionTokens: kept.length } };
    },
  };
}

type Reply = { text: string } | { calls: ToolCall[] };

type Intent =
  | { kind: 'help'; understood: boolean }
  | { kind: 'summary'; count?: number }
  | { kind: 'search'; query: string }
  | { kind: 'time'; timezone?: string };

const SEARCH_TOOL = 'search_messages';
const TIME_TOOL = 'time';

/** The whole decision, pure: what the offline "model" answers to these turns. */
export function replyTo(turns: Turn[], tools: ToolSpec[]): Reply {
  const last = turns[turns.length - 1];
  if (last?.role === 'tool') return { text: answerFromTools(turns) };
  const askIndex = turns.findLastIndex((t) => t.role === 'user');
  const ask = askIndex >= 0 ? stripAsk(turns[askIndex]!.content) : '';
  const intent = parseIntent(ask);
  const has = (name: string) => tools.some((t) => t.name === name);
  const callId = `call_${turns.length}`;
  switch (intent.kind) {
    case 'summary': {
      const context = turns.slice(0, askIndex).filter((t) => t.role === 'user').map((t) => contextMessage(t.content));
      const picked = intent.count ? context.slice(-intent.count) : context;
      return { text: summarise(picked) };
    }
    case 'search':
      if (!has(SEARCH_TOOL)) return { text: 'I cannot search messages here: the search tool is not available.' };
      return { calls: [{ id: callId, name: SEARCH_TOOL, arguments: JSON.stringify({ query: intent.query }) }] };
    case 'time':
      if (!has(TIME_TOOL)) return { text: 'I cannot tell the time here: the time tool is not available.' };
      return { calls: [{ id: callId, name: TIME_TOOL, arguments: JSON.stringify(intent.timezone ? { timezone: intent.timezone } : {}) }] };
    case 'help':
      return { text: helpText(tools, intent.understood) };
  }
}

const COMMANDS = new Set(['help', 'summarise', 'summarize', 'summary', 'search', 'find', 'time', 'date', 'what']);

/** The question itself: without the "name: " prefix the turns carry, and without the @assistant mention. */
function stripAsk(content: string): string {
  let text = content;
  const prefix = /^([^\s:]{1,64}):\s/.exec(text);
  if (prefix && !COMMANDS.has(prefix[1]!.toLowerCase())) text = text.slice(prefix[0].length);
  return text.replace(/@assistant\b/gi, ' ').replace(/^[\s,:;.!-]+/, '').trim();
}

function parseIntent(ask: string): Intent {
  const lower = ask.toLowerCase();
  const search = /\b(?:search|find)\b(?:\s+for)?\s+(.+)$/is.exec(ask);
  if (search) {
    const query = search[1]!.replace(/[?!.]+$/, '').trim();
    if (query) return { kind: 'search', query };
  }
  if (/\b(?:summari[sz]e|summary)\b/.test(lower)) {
    const n = /\b(\d{1,4})\b/.exec(lower);
    const count = n ? Number(n[1]) : undefined;
    return count && count > 0 ? { kind: 'summary', count } : { kind: 'summary' };
  }
  if (/\b(?:time|date)\b/.test(lower)) {
    const zone = /\b([A-Z][A-Za-z_]+(?:\/[A-Za-z_+-]+){1,2})\b/.exec(ask)?.[1] ?? (/\b(?:utc|gmt)\b/i.test(ask) ? 'UTC' : undefined);
    return zone ? { kind: 'time', timezone: zone } : { kind: 'time' };
  }
  return { kind: 'help', understood: /^\s*help\b/i.test(ask) || ask === '' };
}

function helpText(tools: ToolSpec[], understood: boolean): string {
  const lines = [understood ? 'I am the assistant. Mention me with a request:' : 'I did not understand that. Here is what I can do:'];
  lines.push('- "summarise" (or "summarise 20"): a summary of the recent messages here.');
  if (tools.some((t) => t.name === SEARCH_TOOL)) lines.push('- "search <words>": find messages you may read.');
  if (tools.some((t) => t.name === TIME_TOOL)) lines.push('- "time" (or "time in Europe/Paris"): the current date and time.');
  lines.push('- "help": this list.');
  lines.push(tools.length ? `Tools available: ${tools.map((t) => t.name).join(', ')}.` : 'No tools are available right now.');
  return lines.join('\n');
}

/** The answer after a tool round: the trailing `tool` turns, read with the calls that asked for them. */
function answerFromTools(turns: Turn[]): string {
  const calls = new Map<string, ToolCall>();
  for (const t of turns) if (t.role === 'assistant') for (const c of t.toolCalls ?? []) calls.set(c.id, c);
  const results: { call: ToolCall | undefined; content: string }[] = [];
  for (let i = turns.length - 1; i >= 0; i--) {
    const t = turns[i]!;
    if (t.role !== 'tool') break;
    results.unshift({ call: calls.get(t.toolCallId), content: t.content });
  }
  return results.map(({ call, content }) => describeResult(call, content)).join('\n\n');
}

function describeResult(call: ToolCall | undefined, content: string): string {
  const value = parseJson(content);
  const error = value && typeof value === 'object' && !Array.isArray(value) && typeof (value as { error?: unknown }).error === 'string'
    ? (value as { error: string }).error
    : undefined;
  if (call?.name === SEARCH_TOOL) {
    const query = (parseJson(call.arguments) as { query?: string } | undefined)?.query ?? '';
    if (error) return `The search did not work: ${error}.`;
    if (!Array.isArray(value)) return 'The search gave an answer I cannot read.';
    if (value.length === 0) return `Nothing found for "${query}".`;
    const lines = value.map((h: { room?: unknown; author?: unknown; text?: unknown }) =>
      `- #${String(h.room)} · ${String(h.author)}: ${excerpt(String(h.text ?? ''), 120)}`);
    return [`Found ${value.length} message${value.length === 1 ? '' : 's'} for "${query}":`, ...lines].join('\n');
  }
  if (call?.name === TIME_TOOL) {
    if (error) return `I could not tell the time: ${error}.`;
    const t = value as { human?: unknown; timezone?: unknown; iso?: unknown } | undefined;
    if (!t || typeof t.human !== 'string') return 'The time tool gave an answer I cannot read.';
    return `It is ${t.human} (${String(t.timezone)}; ${String(t.iso)}).`;
  }
  return `The ${call?.name ?? 'unknown'} tool answered: ${excerpt(content, 200)}`;
}

function contextMessage(content: string): ContextMessage {
  const m = /^([^:\n]{1,64}):\s?([\s\S]*)$/.exec(content);
  return m ? { author: m[1]!.trim(), text: m[2]! } : { author: 'someone', text: content };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
