// Which messages the assistant answers (triggers.ts).
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../shared/message.js';
import { STALE_MS, triggerOf } from './triggers.js';

const A = 'u_assistant1';
const now = 1_800_000_000_000;
const msg = (text: string, extra: Partial<ChatMessage> = {}): ChatMessage => ({
  id: `${now}-0`, room: 'general', user: { id: 'u_ann000001', name: 'ann' }, text, ts: now, cid: 'c1', ...extra,
});

describe('triggerOf', () => {
  it('answers @assistant as a word of its own, anywhere in the text, in any case', () => {
    for (const t of ['@assistant hi', 'hi @assistant', 'hey @Assistant, summarise', '(@assistant)', '@assistant.', 'ok @assistant?']) {
      expect(triggerOf(msg(t), A, now), t).toMatchObject({ room: 'general', asker: { name: 'ann' }, private: false });
    }
  });

  it('ignores other names, e-mail addresses, its own messages, events, read marks and stale questions', () => {
    for (const t of ['assistant help', '@assistants', '@assistant-bot', '@assistant.bot', 'me@assistant.io', 'x@assistant']) {
      expect(triggerOf(msg(t), A, now), t).toBeNull();
    }
    expect(triggerOf(msg('@assistant', { user: { id: A, name: 'assistant' } }), A, now)).toBeNull();
    expect(triggerOf({ id: `${now}-1`, room: 'general', user: { id: 'u_ann000001', name: 'ann' }, ts: now, cid: 'c', target: `${now}-0`, kind: 'edit', text: '@assistant' }, A, now)).toBeNull();
    expect(triggerOf({ room: 'general', user: { id: 'u_ann000001', name: 'ann' }, id: `${now}-0`, seq: 3 }, A, now)).toBeNull();
    expect(triggerOf(msg('@assistant'), A, now + STALE_MS + 1)).toBeNull();
  });

  it('answers every message of a DM with it (privately), and in the thread a question was asked in', () => {
    const dm = `dm:${[A, 'u_ann000001'].sort().join(':')}`;
    expect(triggerOf(msg('what time is it', { room: dm }), A, now)).toMatchObject({ private: true, room: dm });
    expect(triggerOf(msg('hello', { room: 'dm:u_ann000001:u_bob000001' }), A, now)).toBeNull();
    expect(triggerOf(msg('@assistant and here?', { replyTo: `${now - 5}-0` }), A, now)).toMatchObject({ replyTo: `${now - 5}-0` });
  });
});
