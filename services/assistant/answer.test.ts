// The answer loop (answer.ts): a tool round trip (offline in process, and openai over HTTP with a
// real SQLite store behind search), the cap on tool rounds, a tool timeout fed back to the model,
// a stop mid-answer keeping the partial text, provider failures kept short — and it never throws.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chunk, startFakeOpenAIServer } from '../../test/helpers/fake-openai-server.js';
import { createStore } from '../shared/store/index.js';
import { say } from '../shared/store/store.contract-search.js';
import { answer, TOOL_CAP_NOTE, type AnswerOptions } from './answer.js';
import { createOfflineProvider } from './offline-provider.js';
import { createOpenAIProvider } from './openai-provider.js';
import type { AssistantProvider, CompletionRequest, ProviderEvent, Turn } from './provider.js';
import { createDefaultTools, createToolRegistry, timeTool } from './tools.js';

const NOW = Date.UTC(2026, 11, 4, 9, 30, 0, 0);
const ctx = { askerId: 'u_bob', room: 'general', now: () => NOW };
const ask = (text: string): Turn[] => [{ role: 'system', content: 'You are the assistant.' }, { role: 'user', content: `bob: ${text}` }];
const noStore = { searchMessages: async () => [] };

function run(over: Partial<AnswerOptions> & Pick<AnswerOptions, 'provider' | 'turns'>) {
  const deltas: string[] = [];
  const result = answer({
    tools: createDefaultTools({ store: noStore }), ctx, signal: new AbortController().signal,
    maxToolRounds: 3, maxTokens: 200, onText: (d) => deltas.push(d), ...over,
  });
  return { result, deltas };
}

/** A provider double that replays scripted events per call and records each request. */
function scriptedProvider(script: (req: CompletionRequest, call: number) => ProviderEvent[]): AssistantProvider & { requests: CompletionRequest[] } {
  const requests: CompletionRequest[] = [];
  return {
    name: 'offline',
    requests,
    async *complete(req) {
      requests.push({ ...req, turns: [...req.turns] });
      for (const ev of script(req, requests.length)) yield ev;
    },
  };
}

describe('answer loop', () => {
  it('a tool round trip: the tool call runs, its result goes back, the answer streams; usage adds up over both rounds', async () => {
    const { result, deltas } = run({ provider: createOfflineProvider(), turns: ask('@assistant what time is it in Europe/Paris?') });
    const r = await result;
    expect(r).toMatchObject({ status: 'done', toolCalls: 1, text: 'It is Friday 4 December 2026, 10:30 (Europe/Paris; 2026-12-04T10:30:00.000+01:00).' });
    expect(r.error).toBeUndefined();
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(r.text);
    // offline counts words: round 1 is a call (its 1-word arguments + 1), round 2 the answer's words
    expect(r.usage.completionTokens).toBe(2 + r.text.split(' ').length);
    expect(r.usage.promptTokens).toBeGreaterThan(2 * 13);
  });

  it('over HTTP: openai (fake server in model mode) searches a real store with the asker\'s id and lists the hits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aurora-answer-'));
    const store = await createStore({ SQLITE_PATH: join(dir, 'aurora.db'), MONGO_URL: undefined }, pino({ level: 'silent' }));
    const server = await startFakeOpenAIServer();
    try {
      await store.insertMessages([say('general', '10-0', 'the deploy plan is in the wiki'), say('random', '11-0', 'deploy plan v2')]);
      const provider = createOpenAIProvider({ baseURL: server.baseURL, apiKey: 'k', model: 'm', timeoutMs: 3000, idleTimeoutMs: 2000 });
      const { result } = run({ provider, tools: createDefaultTools({ store }), turns: ask('@assistant search deploy plan') });
      const r = await result;
      expect(r).toMatchObject({ status: 'done', toolCalls: 1 });
      expect(r.text).toBe('Found 1 message for "deploy plan":\n- #general · writer: the deploy plan is in the wiki');
      expect(server.requests).toHaveLength(2);
      expect(server.requests[1]?.body.messages.at(-1)).toEqual({
        role: 'tool', tool_call_id: 'call_2', content: JSON.stringify([{ room: 'general', author: 'writer', text: 'the deploy plan is in the wiki', id: '10-0' }]),
      });
    } finally {
      await server.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops after maxToolRounds: the next ask offers no tools, and a model that still asks gets the note', async () => {
    let ran = 0;
    const tools = createToolRegistry();
    tools.register({ name: 'again', description: 'd', timeoutMs: 100, schema: z.object({}), handler: () => `result ${++ran}` });
    const provider = scriptedProvider((_req, n) => [
      { type: 'text', text: `thinking ${n}` },
      { type: 'tool_calls', calls: [{ id: `c${n}`, name: 'again', arguments: '{}' }] },
      { type: 'done', usage: { promptTokens: 10, completionTokens: 3 } },
    ]);
    const { result, deltas } = run({ provider, tools, turns: ask('loop'), maxToolRounds: 2 });
    const r = await result;
    expect(ran).toBe(2);
    expect(provider.requests.map((q) => q.tools.map((t) => t.name))).toEqual([['again'], ['again'], []]);
    expect(provider.requests[2]?.turns.slice(2)).toEqual([
      { role: 'assistant', content: 'thinking 1', toolCalls: [{ id: 'c1', name: 'again', arguments: '{}' }] },
      { role: 'tool', toolCallId: 'c1', content: 'result 1' },
      { role: 'assistant', content: 'thinking 2', toolCalls: [{ id: 'c2', name: 'again', arguments: '{}' }] },
      { role: 'tool', toolCallId: 'c2', content: 'result 2' },
    ]);
    expect(r).toEqual({
      status: 'done', text: `thinking 1\n\nthinking 2\n\nthinking 3\n\n${TOOL_CAP_NOTE}`, toolCalls: 2,
      usage: { promptTokens: 30, completionTokens: 9 },
    });
    expect(deltas.join('')).toBe(r.text);
  });

  it('a tool that times out is fed back as an error result, and the answer says so', async () => {
    const tools = createToolRegistry();
    tools.register({ ...timeTool(), timeoutMs: 100, handler: () => new Promise(() => {}) });
    const started = Date.now();
    const r = await run({ provider: createOfflineProvider(), tools, turns: ask('time') }).result;
    expect(r).toMatchObject({ status: 'done', toolCalls: 1, text: 'I could not tell the time: time timed out after 100 ms.' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a stop mid-answer ends as stopped with the partial text, at once', async () => {
    const stop = new AbortController();
    const deltas: string[] = [];
    const r = await answer({
      provider: createOfflineProvider({ chunkDelayMs: 20 }), tools: createDefaultTools({ store: noStore }), ctx, signal: stop.signal,
      turns: ask('help'), maxToolRounds: 3, maxTokens: 200,
      onText: (d) => {
        deltas.push(d);
        if (deltas.length === 2) stop.abort();
      },
    });
    expect(r.status).toBe('stopped');
    expect(r.error).toBeUndefined();
    expect(r.text).toBe(deltas.join(''));
    expect(r.text).toBe('I am the assistant. Mention me '); // two groups of 3 words
  });

  it('a stop while a tool runs ends as stopped, without asking the model again', async () => {
    const stop = new AbortController();
    const tools = createToolRegistry();
    tools.register({ ...timeTool(), timeoutMs: 5000, handler: () => { setTimeout(() => stop.abort(), 10); return new Promise(() => {}); } });
    const provider = scriptedProvider(() => [{ type: 'tool_calls', calls: [{ id: 'c', name: 'time', arguments: '{}' }] }, { type: 'done' }]);
    const r = await answer({ provider, tools, ctx, signal: stop.signal, turns: ask('time'), maxToolRounds: 3, maxTokens: 200, onText: () => {} });
    expect(r).toMatchObject({ status: 'stopped', text: '', toolCalls: 1 });
    expect(provider.requests).toHaveLength(1);
  });

  it('a provider failure mid-stream is failed with its short message and the text so far; a live-update error is ignored', async () => {
    const server = await startFakeOpenAIServer();
    try {
      server.script({ destroyAfter: 2, chunks: [chunk.text('par'), chunk.text('tial'), chunk.text(' lost'), chunk.finish('stop')] });
      const provider = createOpenAIProvider({ baseURL: server.baseURL, apiKey: 'k', model: 'm', timeoutMs: 3000, idleTimeoutMs: 2000 });
      const r = await run({ provider, turns: ask('hi'), onText: () => { throw new Error('redis down'); } }).result;
      expect(r).toMatchObject({ status: 'failed', text: 'partial', error: "The connection to the assistant's provider broke." });
    } finally {
      await server.close();
    }
  });

  it('a bug in a provider is failed with a generic line (the details go to the log only)', async () => {
    const logged: unknown[] = [];
    const provider = scriptedProvider(() => {
      throw new TypeError('cannot read properties of undefined (secret internals)');
    });
    const r = await run({ provider, turns: ask('hi'), log: { error: (obj: unknown) => void logged.push(obj) } as never }).result;
    expect(r).toMatchObject({ status: 'failed', text: '', error: 'The assistant failed unexpectedly.' });
    expect(logged).toHaveLength(1);
  });
});
