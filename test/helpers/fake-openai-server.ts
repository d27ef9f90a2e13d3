// A real HTTP server speaking the streaming Chat Completions protocol (issue 17), for the openai
// provider's tests: POST /v1/chat/completions (or /chat/completions) answers `text/event-stream`
// chunks `data: {json}\n\n` … `data: [DONE]\n\n`, like OpenAI, Groq, Ollama or vLLM do.
//
// Two ways to answer:
// - "model" mode (the default, when nothing is scripted): it runs the OFFLINE provider on the
//   request's messages and tools and streams its events as OpenAI chunks — text as
//   delta.content, tool calls as delta.tool_calls split over several chunks (id and name first,
//   the arguments in pieces), a usage chunk when asked — so the provider contract suite runs
//   against both providers with the same expectations.
// - scripted responses, queued by the test and used one per request: chunks with delays, an HTTP
//   error with a JSON body, a stall after N chunks, a socket destroyed mid-stream, a delay before
//   the first byte.
// Every request is recorded (headers and parsed body).
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOfflineProvider } from '../../services/assistant/offline-provider.js';
import type { ProviderEvent, ToolSpec, Turn } from '../../services/assistant/provider.js';

/** One `data:` item: a chunk object (sent as JSON), raw text sent as is, or a pause. */
export type ScriptItem = Record<string, unknown> | { raw: string } | { delayMs: number };

export interface ScriptedResponse {
  /** Not 200: answered as JSON `body` with this status (no stream). */
  status?: number;
  body?: unknown;
  chunks?: ScriptItem[];
  /** Pause between chunks (ms). */
  chunkDelayMs?: number;
  /** Pause before the status line and headers. */
  firstByteDelayMs?: number;
  /** Headers and this many chunks, then silence with the socket left open. */
  stallAfter?: number;
  /** This many chunks, then the socket is destroyed. */
  destroyAfter?: number;
  /** Send `data: [DONE]` after the chunks (default true). */
  done?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
}

export interface FakeOpenAIServer {
  /** The baseURL to give the client: http://127.0.0.1:PORT/v1 */
  baseURL: string;
  port: number;
  requests: RecordedRequest[];
  /** Queues responses, used in order by the next requests; model mode when the queue is empty. */
  script(...responses: ScriptedResponse[]): void;
  close(): Promise<void>;
}

export interface FakeOpenAIOptions {
  /** Model mode: pause between streamed chunks (default 0). */
  modelChunkDelayMs?: number;
  /** Model mode: arguments are sent in pieces of this many characters (default 6). */
  argumentPieceChars?: number;
}

/** OpenAI-shaped chunks for scripts. */
export const chunk = {
  text: (content: string) => base([{ index: 0, delta: { content }, finish_reason: null }]),
  role: () => base([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
  toolCall: (index: number, part: { id?: string; name?: string; arguments?: string }) => {
    const fn: Record<string, string> = {};
    if (part.name !== undefined) fn.name = part.name;
    if (part.arguments !== undefined) fn.arguments = part.arguments;
    const call: Record<string, unknown> = { index, function: fn };
    if (part.id !== undefined) Object.assign(call, { id: part.id, type: 'function' });
    return base([{ index: 0, delta: { tool_calls: [call] }, finish_reason: null }]);
  },
  finish: (reason: 'stop' | 'tool_calls' | 'length') => base([{ index: 0, delta: {}, finish_reason: reason }]),
  usage: (promptTokens: number, completionTokens: number) => ({
    ...base([]),
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  }),
};

function base(choices: unknown[]): Record<string, unknown> {
  return { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1_800_000_000, model: 'fake-model', choices };
}

export async function startFakeOpenAIServer(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAIServer> {
  const requests: RecordedRequest[] = [];
  const queue: ScriptedResponse[] = [];
  const wakers = new Set<() => void>();
  let closed = false;
  // A pause that ends early when the server closes, so no writer is left waiting.
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || closed) return resolve();
      const wake = () => {
        clearTimeout(t);
        wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      wakers.add(wake);
    });

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8') || 'null');
      } catch {
        body = undefined;
      }
      const path = (req.url ?? '').split('?')[0]!;
      requests.push({ method: req.method ?? '', path, headers: req.headers, body });
      if (req.method !== 'POST' || !/^(\/v1)?\/chat\/completions$/.test(path)) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
        return;
      }
      const scripted = queue.shift();
      const run = scripted ? answerScripted(res, scripted, pause, () => closed) : answerAsModel(res, body, opts, pause, () => closed);
      run.catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    script: (...responses) => void queue.push(...responses),
    async close() {
      closed = true;
      for (const wake of [...wakers]) wake();
      // Stalled streams and keep-alive sockets would hold close() open.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Pause = (ms: number) => Promise<void>;

const sseHeaders = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' };

async function answerScripted(res: ServerResponse, s: ScriptedResponse, pause: Pause, isClosed: () => boolean): Promise<void> {
  await pause(s.firstByteDelayMs ?? 0);
  if (isClosed() || res.destroyed) return;
  if (s.status && s.status !== 200) {
    res.writeHead(s.status, { 'content-type': 'application/json' }).end(JSON.stringify(s.body ?? { error: { message: 'error' } }));
    return;
  }
  res.writeHead(200, sseHeaders);
  res.flushHeaders();
  let sent = 0;
  for (const item of s.chunks ?? []) {
    if (s.stallAfter !== undefined && sent >= s.stallAfter) return; // silence, socket open
    if (s.destroyAfter !== undefined && sent >= s.destroyAfter) return void res.socket?.destroy();
    if ('delayMs' in item && typeof item.delayMs === 'number') {
      await pause(item.delayMs);
      continue;
    }
    if (sent > 0) await pause(s.chunkDelayMs ?? 0);
    if (isClosed() || res.destroyed) return;
    // Waiting for the flush makes "N chunks, then destroy" mean N chunks on the wire.
    await write(res, `data: ${'raw' in item && typeof item.raw === 'string' ? item.raw : JSON.stringify(item)}\n\n`);
    sent++;
  }
  if (s.stallAfter !== undefined) return;
  if (s.destroyAfter !== undefined) return void res.socket?.destroy();
  if (s.done !== false) res.write('data: [DONE]\n\n');
  res.end();
}

function write(res: ServerResponse, data: string): Promise<void> {
  return new Promise((resolve) => res.write(data, () => resolve()));
}

/** Model mode: the offline provider's answer to the request, as OpenAI chunks. */
async function answerAsModel(res: ServerResponse, body: any, opts: FakeOpenAIOptions, pause: Pause, isClosed: () => boolean): Promise<void> {
  const turns = toTurns(body?.messages);
  const tools: ToolSpec[] = (body?.tools ?? []).map((t: any) => ({
    name: t.function?.name,
    description: t.function?.description ?? '',
    parameters: t.function?.parameters ?? {},
  }));
  const stop = new AbortController();
  res.on('close', () => stop.abort());
  res.writeHead(200, sseHeaders);
  res.flushHeaders();
  const send = async (c: Record<string, unknown>) => {
    if (isClosed() || res.destroyed) return;
    res.write(`data: ${JSON.stringify(c)}\n\n`);
    await pause(opts.modelChunkDelayMs ?? 0);
  };
  const events: AsyncIterable<ProviderEvent> = createOfflineProvider({ wordsPerChunk: 2 }).complete({
    turns,
    tools,
    signal: stop.signal,
    maxTokens: body?.max_tokens ?? 1000,
  });
  await send(chunk.role());
  let finish: 'stop' | 'tool_calls' = 'stop';
  for await (const ev of events) {
    if (ev.type === 'text') await send(chunk.text(ev.text));
    else if (ev.type === 'tool_calls') {
      finish = 'tool_calls';
      const piece = Math.max(1, opts.argumentPieceChars ?? 6);
      for (const [index, call] of ev.calls.entries()) {
        await send(chunk.toolCall(index, { id: call.id, name: call.name, arguments: '' }));
        for (let i = 0; i < call.arguments.length; i += piece) await send(chunk.toolCall(index, { arguments: call.arguments.slice(i, i + piece) }));
      }
    } else {
      await send(chunk.finish(finish));
      if (body?.stream_options?.include_usage && ev.usage) await send(chunk.usage(ev.usage.promptTokens, ev.usage.completionTokens));
    }
  }
  if (isClosed() || res.destroyed) return;
  res.write('data: [DONE]\n\n');
  res.end();
}

/** The request's messages back as the port's turns (the inverse of openai-provider.ts toMessage). */
function toTurns(messages: any[] | undefined): Turn[] {
  return (messages ?? []).map((m): Turn => {
    const content = typeof m.content === 'string' ? m.content : '';
    if (m.role === 'tool') return { role: 'tool', toolCallId: String(m.tool_call_id), content };
    if (m.role === 'assistant' && Array.isArray(m.tool_calls)) {
      return {
        role: 'assistant',
        content,
        toolCalls: m.tool_calls.map((c: any) => ({ id: c.id, name: c.function?.name, arguments: c.function?.arguments ?? '' })),
      };
    }
    return { role: m.role === 'system' || m.role === 'assistant' ? m.role : 'user', content };
  });
}
