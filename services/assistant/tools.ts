// The assistant's tools (issue 17): a registry of named tools, each with a zod schema (sent to the
// model as JSON schema), a handler and its own timeout, plus the two built-ins, `time` and
// `search_messages`. `run` never throws: whatever goes wrong (arguments that are not JSON or do
// not fit the schema, an unknown tool, a handler error, a timeout) becomes an error RESULT that
// is fed back to the model, which can then correct itself or tell the user.
import { z } from 'zod';
import type { SearchQuery, Store } from '../shared/store/store.js';
import type { ToolCall, ToolSpec } from './provider.js';
import { clip } from './text.js';

export interface ToolContext {
  /** The user who asked: tools act with THEIR permissions, never the assistant's. */
  askerId: string;
  /** The room the question was asked in (and the answer will be posted to). */
  room: string;
  now: () => number;
  /** Aborted on stop/shutdown, and by the registry when the tool's timeout passes. */
  signal: AbortSignal;
  /**
   * True only when the answer is seen by the asker alone (their DM with the assistant). Otherwise
   * the whole room reads the answer, so search stays inside this room: hits from the asker's
   * other rooms would show their members' words to people who may not read them.
   */
  answerPrivate?: boolean;
}

export interface ToolDefinition<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  schema: S;
  timeoutMs: number;
  /** Returns a string, or a value sent to the model as JSON. Throw ToolError for a message the model may see. */
  handler(args: z.output<S>, ctx: ToolContext): Promise<unknown> | unknown;
}

/** A failure whose message is safe and useful to show the model (others become "failed"). */
export class ToolError extends Error {
  override name = 'ToolError';
}

export type ToolResult = { ok: true; content: string } | { ok: false; content: string };

export interface ToolRegistry {
  register<S extends z.ZodType>(tool: ToolDefinition<S>): void;
  specs(): ToolSpec[];
  run(call: ToolCall, ctx: ToolContext): Promise<ToolResult>;
}

/** Results are cut here: a tool must not be able to fill the model's context by itself. */
export const MAX_RESULT_CHARS = 4000;

const failure = (message: string): ToolResult => ({ ok: false, content: JSON.stringify({ error: message }) });

export function createToolRegistry(): ToolRegistry {
  const tools = new Map<string, ToolDefinition>();
  return {
    register(tool) {
      if (tools.has(tool.name)) throw new Error(`tool ${tool.name} is already registered`);
      if (!/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name)) throw new Error(`bad tool name ${tool.name}`);
      tools.set(tool.name, tool as unknown as ToolDefinition);
    },
    specs() {
      return [...tools.values()].map((t) => {
        const { $schema: _drop, ...parameters } = z.toJSONSchema(t.schema) as Record<string, unknown>;
        return { name: t.name, description: t.description, parameters };
      });
    },
    async run(call, ctx) {
      const tool = tools.get(call.name);
      if (!tool) return failure(`unknown tool "${call.name.slice(0, 64)}"; available: ${[...tools.keys()].join(', ') || 'none'}`);
      let raw: unknown;
      try {
        raw = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
      } catch {
        return failure(`the arguments of ${tool.name} are not valid JSON`);
      }
      const parsed = tool.schema.safeParse(raw);
      if (!parsed.success) {
        const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`);
        return failure(`invalid arguments for ${tool.name}: ${issues.join('; ')}`);
      }
      return runWithTimeout(tool, parsed.data, ctx);
    },
  };
}

async function runWithTimeout(tool: ToolDefinition, args: unknown, ctx: ToolContext): Promise<ToolResult> {
  if (ctx.signal.aborted) return failure(`${tool.name} was cancelled`);
  const timeout = new AbortController();
  // The handler sees one signal for both reasons to give up, so a store call can be dropped too.
  const signal = AbortSignal.any([ctx.signal, timeout.signal]);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const givenUp = new Promise<ToolResult>((resolve) => {
    timer = setTimeout(() => {
      timeout.abort();
      resolve(failure(`${tool.name} timed out after ${tool.timeoutMs} ms`));
    }, tool.timeoutMs);
    onAbort = () => resolve(failure(`${tool.name} was cancelled`));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
  const work = (async (): Promise<ToolResult> => {
    try {
      const value = await tool.handler(args, { ...ctx, signal });
      const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
      return { ok: true, content: clip(text, MAX_RESULT_CHARS) };
    } catch (err) {
      return failure(err instanceof ToolError ? err.message : `${tool.name} failed`);
    }
  })();
  try {
    return await Promise.race([work, givenUp]);
  } finally {
    clearTimeout(timer);
    if (onAbort) ctx.signal.removeEventListener('abort', onAbort);
  }
}

// --- built-in tools ---

/** The current time in an IANA zone (UTC by default): ISO 8601 with the zone's offset, and a human form. */
export function timeTool(): ToolDefinition<z.ZodObject<{ timezone: z.ZodOptional<z.ZodString> }>> {
  return {
    name: 'time',
    description: 'The current date and time, in a time zone (an IANA name such as "Europe/Paris"; UTC when omitted).',
    schema: z.object({ timezone: z.string().max(64).optional().describe('IANA time zone name, e.g. "America/New_York"') }),
    timeoutMs: 1000,
    handler({ timezone }, ctx) {
      return timeIn(timezone ?? 'UTC', ctx.now());
    },
  };
}

export interface TimeResult {
  timezone: string;
  iso: string;
  human: string;
}

export function timeIn(timeZone: string, ms: number): TimeResult {
  let parts: Intl.DateTimeFormatPart[];
  let names: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'longOffset',
    }).formatToParts(ms);
    names = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'long', month: 'long' }).formatToParts(ms);
  } catch {
    throw new ToolError(`unknown time zone "${timeZone.slice(0, 64)}": use an IANA name such as Europe/Paris`);
  }
  const p = (type: Intl.DateTimeFormatPartTypes, from = parts) => from.find((x) => x.type === type)?.value ?? '';
  // longOffset is "GMT+01:00"; offset zero is "GMT" or "GMT+00:00" depending on the ICU version
  const raw = p('timeZoneName').replace(/^GMT/, '');
  const offset = raw === '' || /^[+-]00:00$/.test(raw) ? 'Z' : raw;
  const millis = String(ms % 1000).padStart(3, '0');
  const iso = `${p('year')}-${p('month')}-${p('day')}T${p('hour')}:${p('minute')}:${p('second')}.${millis}${offset}`;
  // Assembled from parts rather than a dateStyle, whose punctuation changes between ICU versions.
  const human = `${p('weekday', names)} ${Number(p('day'))} ${p('month', names)} ${p('year')}, ${p('hour')}:${p('minute')}`;
  return { timezone: timeZone, iso, human };
}

export interface SearchToolHit {
  room: string;
  author: string;
  text: string;
  id: string;
}

/** Hits returned to the model, and how much of each message's text. */
export const SEARCH_TOOL_LIMIT = 5;
export const SEARCH_EXCERPT_CHARS = 300;

/**
 * Message search with the ASKER's permissions (store.searchMessages with viewerId = askerId): it
 * can never find what the asker could not find in the search box. See ToolContext.answerPrivate
 * for why it stays in the current room unless the answer is private.
 */
export function searchMessagesTool(
  store: Pick<Store, 'searchMessages'>,
): ToolDefinition<z.ZodObject<{ query: z.ZodString; room: z.ZodOptional<z.ZodString> }>> {
  return {
    name: 'search_messages',
    description:
      'Search the chat messages the asking user may read. Words are all required; "quoted phrases" and prefix* work. ' +
      'Returns up to 5 hits as JSON [{room, author, text, id}], best first.',
    schema: z.object({
      query: z.string().trim().min(1).max(200).describe('the words to find'),
      room: z.string().min(1).max(100).optional().describe('only this room (default: the current room)'),
    }),
    timeoutMs: 3000,
    async handler({ query, room }, ctx) {
      if (!ctx.answerPrivate && room !== undefined && room !== ctx.room) {
        throw new ToolError('in a shared room only this room can be searched; ask in a direct message to search other rooms');
      }
      const q: SearchQuery = { viewerId: ctx.askerId, q: query, offset: 0, limit: SEARCH_TOOL_LIMIT };
      const scope = ctx.answerPrivate ? room : ctx.room;
      if (scope !== undefined) q.room = scope;
      const hits = await store.searchMessages(q);
      return hits.map(({ message: m }): SearchToolHit => ({
        room: m.room,
        author: m.user.name,
        text: clip(m.text, SEARCH_EXCERPT_CHARS),
        id: m.id,
      }));
    },
  };
}

/** A registry with the built-in tools. */
export function createDefaultTools(deps: { store: Pick<Store, 'searchMessages'> }): ToolRegistry {
  const registry = createToolRegistry();
  registry.register(timeTool());
  registry.register(searchMessagesTool(deps.store));
  return registry;
}
