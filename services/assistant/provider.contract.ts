// The provider contract (provider.ts), run against every provider by providers.test.ts: offline
// directly, openai against the fake server in model mode (test/helpers/fake-openai-server.ts),
// which answers like the offline provider — so the expectations are the same words for both,
// and the openai side proves the mapping both ways (turns → messages, chunks → events).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AssistantProvider, ProviderEvent, ToolCall, Turn } from './provider.js';
import { createToolRegistry, searchMessagesTool, timeTool } from './tools.js';

export interface ProviderHarness {
  provider: AssistantProvider;
  close(): Promise<void>;
}

const registry = createToolRegistry();
registry.register(timeTool());
registry.register(searchMessagesTool({ searchMessages: async () => [] }));
export const allTools = registry.specs();

const SYSTEM: Turn = { role: 'system', content: 'You are the assistant of a chat room.' };
const user = (content: string): Turn => ({ role: 'user', content });

export async function collect(provider: AssistantProvider, turns: Turn[], tools = allTools, signal = new AbortController().signal): Promise<ProviderEvent[]> {
  const events: ProviderEvent[] = [];
  for await (const ev of provider.complete({ turns, tools, signal, maxTokens: 500 })) events.push(ev);
  return events;
}
export const textOf = (events: ProviderEvent[]) => events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('');
const callsOf = (events: ProviderEvent[]) => events.flatMap((e) => (e.type === 'tool_calls' ? [e.calls] : []));

export function providerContract(name: string, open: () => Promise<ProviderHarness>): void {
  describe(`${name} provider contract`, () => {
    let h: ProviderHarness;
    beforeEach(async () => {
      h = await open();
    });
    afterEach(async () => {
      await h.close();
    });

    /** Asks, expects exactly one tool_calls event with one call, returns it. */
    async function askForTool(turns: Turn[]): Promise<ToolCall> {
      const events = await collect(h.provider, turns);
      const calls = callsOf(events);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toHaveLength(1);
      expect(textOf(events)).toBe('');
      expect(events.at(-1)?.type).toBe('done');
      return calls[0]![0]!;
    }

    it('help lists what it can do and the tools offered, streamed in several pieces, then done with usage', async () => {
      const events = await collect(h.provider, [SYSTEM, user('alice: hi'), user('bob: @assistant help')]);
      const text = textOf(events);
      expect(text).toMatch(/summarise/);
      expect(text).toMatch(/Tools available: time, search_messages\./);
      expect(events.filter((e) => e.type === 'text').length).toBeGreaterThan(3);
      expect(callsOf(events)).toEqual([]);
      const done = events.at(-1);
      expect(done?.type).toBe('done');
      if (done?.type === 'done') expect(done.usage?.completionTokens).toBe(text.split(/\s+/).filter(Boolean).length);
    });

    it('something it does not understand gets the help; without tools it offers none and does not call them', async () => {
      const puzzled = textOf(await collect(h.provider, [SYSTEM, user('bob: @assistant sing a song')]));
      expect(puzzled).toMatch(/^I did not understand that/);
      const noTools = await collect(h.provider, [SYSTEM, user('bob: @assistant help')], []);
      expect(textOf(noTools)).toMatch(/No tools are available right now\./);
      expect(textOf(noTools)).not.toMatch(/search </);
      const search = await collect(h.provider, [SYSTEM, user('bob: @assistant search deploy')], []);
      expect(callsOf(search)).toEqual([]);
      expect(textOf(search)).toMatch(/cannot search/);
    });

    it('a summary is built from the messages it is given: who spoke, how much, recurring topics, the last points', async () => {
      const room = [
        user('alice: the deploy is scheduled for friday'),
        user('bob: is the database migration ready for the deploy?'),
        user('alice: migration ran on staging yesterday'),
        user('carol: I will watch the dashboards during the deploy'),
        user('bob: great, migration first then deploy'),
      ];
      const text = textOf(await collect(h.provider, [SYSTEM, ...room, user('dave: @assistant summarise')]));
      expect(text).toMatch(/^Summary of the last 5 messages \(3 people\):/);
      expect(text).toMatch(/Who spoke: alice \(2\), bob \(2\), carol \(1\)\./);
      expect(text).toMatch(/Topics: deploy, migration\./);
      expect(text).toMatch(/- carol: I will watch the dashboards during the deploy\n {2}- bob: great, migration first then deploy$/);
      expect(text).not.toMatch(/alice: the deploy is scheduled/); // only the last 3 points

      // another conversation, another summary; "summarise 2" takes the last two only
      const other = textOf(await collect(h.provider, [SYSTEM, ...room.slice(0, 3), user('erin: lunch at noon?'), user('frank: lunch yes'), user('dave: @assistant summarize 2')]));
      expect(other).toMatch(/^Summary of the last 2 messages \(2 people\):/);
      expect(other).toMatch(/Who spoke: erin \(1\), frank \(1\)\./);
      expect(other).toMatch(/Topics: lunch\./);
    });

    it('search: a call to search_messages with the words, then an answer listing the hits (or nothing found)', async () => {
      const turns = [SYSTEM, user('alice: anyone?'), user('bob: @assistant search deploy plan')];
      const call = await askForTool(turns);
      expect(call.name).toBe('search_messages');
      expect(JSON.parse(call.arguments)).toEqual({ query: 'deploy plan' });
      expect(call.id).not.toBe('');

      const hits = [
        { room: 'general', author: 'alice', text: 'the deploy plan is in the wiki', id: '10-0' },
        { room: 'ops', author: 'carol', text: 'updated the deploy plan', id: '12-0' },
      ];
      const after = (content: string): Turn[] => [...turns, { role: 'assistant', content: '', toolCalls: [call] }, { role: 'tool', toolCallId: call.id, content }];
      const found = await collect(h.provider, after(JSON.stringify(hits)));
      expect(callsOf(found)).toEqual([]);
      expect(textOf(found)).toBe('Found 2 messages for "deploy plan":\n- #general · alice: the deploy plan is in the wiki\n- #ops · carol: updated the deploy plan');
      expect(textOf(await collect(h.provider, after('[]')))).toBe('Nothing found for "deploy plan".');
      expect(textOf(await collect(h.provider, after(JSON.stringify({ error: 'search_messages timed out after 3000 ms' }))))).toBe(
        'The search did not work: search_messages timed out after 3000 ms.',
      );
    });

    it('time: a call to `time` with the zone asked for, then the time from its result', async () => {
      const turns = [SYSTEM, user('bob: @assistant what time is it in Europe/Paris?')];
      const call = await askForTool(turns);
      expect(call.name).toBe('time');
      expect(JSON.parse(call.arguments)).toEqual({ timezone: 'Europe/Paris' });
      expect(JSON.parse((await askForTool([SYSTEM, user('bob: @assistant date')])).arguments)).toEqual({});

      const result = { timezone: 'Europe/Paris', iso: '2026-12-04T10:30:00.000+01:00', human: 'Friday 4 December 2026 at 10:30' };
      const text = textOf(await collect(h.provider, [...turns, { role: 'assistant', content: '', toolCalls: [call] }, { role: 'tool', toolCallId: call.id, content: JSON.stringify(result) }]));
      expect(text).toBe('It is Friday 4 December 2026 at 10:30 (Europe/Paris; 2026-12-04T10:30:00.000+01:00).');
    });

    it('an abort mid-stream stops the events at once, without throwing and without done', async () => {
      const ctl = new AbortController();
      const events: ProviderEvent[] = [];
      const started = Date.now();
      for await (const ev of h.provider.complete({ turns: [SYSTEM, user('bob: help')], tools: allTools, signal: ctl.signal, maxTokens: 500 })) {
        events.push(ev);
        if (events.length === 2) ctl.abort();
      }
      expect(events.map((e) => e.type)).toEqual(['text', 'text']);
      expect(Date.now() - started).toBeLessThan(2000);
      // an already aborted request yields nothing
      expect(await collect(h.provider, [SYSTEM, user('bob: help')], allTools, ctl.signal)).toEqual([]);
    });
  });
}
