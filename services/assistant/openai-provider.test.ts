// What only the openai provider has to get right, against the fake server's scripted answers:
// tool-call deltas assembled across chunks, usage, the request it sends, every failure mapped to
// a ProviderError kind — and the API key in none of them, whatever the upstream says.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunk, startFakeOpenAIServer, type FakeOpenAIServer } from '../../test/helpers/fake-openai-server.js';
import { freePort } from '../../test/helpers/ports.js';
import { createOpenAIProvider, type OpenAIProviderOptions } from './openai-provider.js';
import { ProviderError, type ProviderEvent, type Turn } from './provider.js';
import { allTools, collect, textOf } from './provider.contract.js';

const KEY = 'sk-test-DO-NOT-LEAK-4f9a1c';
const turns: Turn[] = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'bob: hello' }];

let server: FakeOpenAIServer;
beforeEach(async () => {
  server = await startFakeOpenAIServer();
});
afterEach(async () => {
  await server.close();
});

const provider = (o: Partial<OpenAIProviderOptions> = {}) =>
  createOpenAIProvider({ baseURL: server.baseURL, apiKey: KEY, model: 'm-1', timeoutMs: 3000, idleTimeoutMs: 2000, ...o });

/** What the last failure() saw before its error. */
let eventsBefore: ProviderEvent[] = [];

/** The ProviderError a completion ends with (fails the test when it does not throw). */
async function failure(o: Partial<OpenAIProviderOptions> = {}): Promise<ProviderError> {
  const events: ProviderEvent[] = (eventsBefore = []);
  try {
    for await (const ev of provider(o).complete({ turns, tools: allTools, signal: new AbortController().signal, maxTokens: 50 })) events.push(ev);
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    expectNoKey(err);
    return err as ProviderError;
  }
  throw new Error(`no error; events: ${JSON.stringify(events)}`);
}

function expectNoKey(err: unknown): void {
  const e = err as Error;
  for (const s of [e.message, e.stack ?? '', String(e), JSON.stringify(e), String((e as { cause?: unknown }).cause ?? '')]) {
    expect(s).not.toContain(KEY);
    expect(s).not.toContain('DO-NOT-LEAK');
  }
}

describe('openai provider: the stream', () => {
  it('assembles tool calls from deltas split over chunks and interleaved by index, and yields them once', async () => {
    server.script({
      chunks: [
        chunk.role(),
        chunk.toolCall(0, { id: 'call_a', name: 'search_messages', arguments: '' }),
        chunk.toolCall(0, { arguments: '{"que' }),
        chunk.toolCall(1, { id: 'call_b', name: 'time', arguments: '{"time' }),
        chunk.toolCall(0, { arguments: 'ry":"deploy' }),
        chunk.toolCall(1, { arguments: 'zone":"UTC"}' }),
        chunk.toolCall(0, { arguments: ' plan"}' }),
        chunk.finish('tool_calls'),
        chunk.usage(42, 17),
      ],
    });
    const events = await collect(provider(), turns);
    expect(events).toEqual([
      {
        type: 'tool_calls',
        calls: [
          { id: 'call_a', name: 'search_messages', arguments: '{"query":"deploy plan"}' },
          { id: 'call_b', name: 'time', arguments: '{"timezone":"UTC"}' },
        ],
      },
      { type: 'done', usage: { promptTokens: 42, completionTokens: 17 } },
    ]);
  });

  it('streams text as it comes, and takes pending tool calls even when the server finishes with "stop" (Ollama does)', async () => {
    server.script({
      chunks: [chunk.text('Let me '), chunk.text('look.'), chunk.toolCall(0, { id: 'c1', name: 'time', arguments: '{}' }), chunk.finish('stop')],
    });
    const events = await collect(provider(), turns);
    expect(events).toEqual([
      { type: 'text', text: 'Let me ' },
      { type: 'text', text: 'look.' },
      { type: 'tool_calls', calls: [{ id: 'c1', name: 'time', arguments: '{}' }] },
      { type: 'done' }, // no usage chunk: no usage
    ]);
  });

  it('sends the key as a bearer token, the model, the tools, max_tokens, usage on, and tool turns in the API shape', async () => {
    server.script({ chunks: [chunk.text('ok'), chunk.finish('stop')] });
    const call = { id: 'call_9', name: 'time', arguments: '{}' };
    await collect(provider(), [...turns, { role: 'assistant', content: '', toolCalls: [call] }, { role: 'tool', toolCallId: 'call_9', content: '{"iso":"x"}' }]);
    const [req] = server.requests;
    expect(req?.path).toBe('/v1/chat/completions');
    expect(req?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req?.body).toMatchObject({ model: 'm-1', stream: true, max_tokens: 500, stream_options: { include_usage: true } });
    expect(req?.body.tools.map((t: any) => [t.type, t.function.name])).toEqual([['function', 'time'], ['function', 'search_messages']]);
    expect(req?.body.tools[1].function.parameters).toMatchObject({ type: 'object', required: ['query'] });
    expect(req?.body.messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'bob: hello' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'time', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_9', content: '{"iso":"x"}' },
    ]);
    // no tools offered: no `tools` field at all (some servers reject an empty list)
    server.script({ chunks: [chunk.text('ok'), chunk.finish('stop')] });
    await collect(provider(), turns, []);
    expect(server.requests[1]?.body).not.toHaveProperty('tools');
  });

  it('an abort before the response headers returns quietly', async () => {
    server.script({ firstByteDelayMs: 5000, chunks: [chunk.text('late'), chunk.finish('stop')] });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 50);
    const started = Date.now();
    expect(await collect(provider(), turns, allTools, ctl.signal)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe('openai provider: failures', () => {
  const openAiError = (message: string, code: string) => ({ error: { message, type: 'invalid_request_error', code } });

  it('401 and 403 are auth, even when the upstream quotes the key back', async () => {
    server.script({ status: 401, body: openAiError(`Incorrect API key provided: ${KEY}. You can find your API key at …`, 'invalid_api_key') });
    const err = await failure();
    expect(err.kind).toBe('auth');
    expect(err.message).toBe("The assistant's provider refused its credentials.");
    server.script({ status: 403, body: openAiError(`key ${KEY} may not use this model`, 'forbidden') });
    expect((await failure()).kind).toBe('auth');
  });

  it('429 is rate_limited (not retried), 500/503 unavailable, 404 bad_response', async () => {
    server.script({ status: 429, body: openAiError(`Rate limit reached for ${KEY}`, 'rate_limit_exceeded') });
    expect((await failure()).kind).toBe('rate_limited');
    expect(server.requests).toHaveLength(1);
    for (const status of [500, 503]) {
      server.script({ status, body: openAiError('overloaded', 'server_error') });
      const err = await failure();
      expect(err.kind).toBe('unavailable');
      expect(err.message).toContain(`HTTP ${status}`);
    }
    server.script({ status: 404, body: openAiError('The model m-1 does not exist', 'model_not_found') });
    expect((await failure()).kind).toBe('bad_response');
  });

  it('a connection refused is unavailable, and the key is in no part of the error', async () => {
    const port = await freePort();
    const err = await failure({ baseURL: `http://127.0.0.1:${port}/v1` });
    expect(err.kind).toBe('unavailable');
  });

  it('no headers within timeoutMs is a timeout', async () => {
    server.script({ firstByteDelayMs: 3000, chunks: [chunk.finish('stop')] });
    const started = Date.now();
    expect((await failure({ timeoutMs: 200 })).kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('a stall after the headers (then silence) is a timeout within the idle bound', async () => {
    server.script({ stallAfter: 2, chunks: [chunk.text('Hel'), chunk.text('lo'), chunk.text(' never'), chunk.finish('stop')] });
    const events: ProviderEvent[] = [];
    const started = Date.now();
    const err = await (async () => {
      try {
        for await (const ev of provider({ idleTimeoutMs: 300 }).complete({ turns, tools: [], signal: new AbortController().signal, maxTokens: 50 })) events.push(ev);
      } catch (e) {
        return e as ProviderError;
      }
      throw new Error('no error');
    })();
    const elapsed = Date.now() - started;
    expect(err.kind).toBe('timeout');
    expect(textOf(events)).toBe('Hello');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1300);
  });

  it('a slow consumer is not a stall: the idle clock runs only while waiting for the upstream', async () => {
    server.script({ chunks: [chunk.text('a'), chunk.text('b'), chunk.finish('stop')] });
    const events: ProviderEvent[] = [];
    for await (const ev of provider({ idleTimeoutMs: 200 }).complete({ turns, tools: [], signal: new AbortController().signal, maxTokens: 50 })) {
      events.push(ev);
      if (ev.type === 'text') await new Promise((r) => setTimeout(r, 400));
    }
    expect(events.map((e) => e.type)).toEqual(['text', 'text', 'done']);
  });

  it('a socket destroyed mid-stream fails as unavailable or bad_response, after the text already streamed', async () => {
    server.script({ destroyAfter: 2, chunks: [chunk.text('par'), chunk.text('tial'), chunk.text(' more'), chunk.finish('stop')] });
    const err = await failure();
    expect(err.kind).toBe('unavailable');
    expect(err.message).toBe("The connection to the assistant's provider broke.");
    expect(textOf(eventsBefore)).toBe('partial');
  });

  it('a stream that ends without finish_reason, or with garbage, or with an error object is not an answer', async () => {
    server.script({ chunks: [chunk.text('cut')], done: true });
    const cut = await failure();
    expect(cut.kind).toBe('bad_response');
    expect(textOf(eventsBefore)).toBe('cut');
    expect(cut.message).toBe("The assistant's provider stopped in the middle of its answer.");
    server.script({ chunks: [chunk.text('ok'), { raw: '{"choices": [garbage' }, chunk.finish('stop')] });
    expect((await failure()).kind).toBe('bad_response');
    server.script({ chunks: [chunk.text('ok'), { error: { message: `upstream blew up near ${KEY}` } }] });
    expect((await failure()).kind).toBe('unavailable');
    server.script({ chunks: [chunk.toolCall(0, { id: 'x', arguments: '{}' }), chunk.finish('tool_calls')] });
    expect((await failure()).kind).toBe('bad_response'); // a tool call without a name
  });
});
