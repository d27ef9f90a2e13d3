// Unit tests of the browser client's handling of the assistant's answers (issue 17,
// frontend/js/assistant-answers.js through the store): `thinking…`, then `delta` frames (the
// whole answer so far) shown as the text while it streams, with the asker known for the stop
// button; the final `edit` ends it and no late delta overwrites it; an answer never shows as
// edited. Every server frame is made by services/chat/frames.ts, as the server sends them.
import { beforeAll, describe, expect, it } from 'vitest';
import { deltaFrame, eventFrameHead, frameTail, messageFrameHead } from '../../services/chat/frames.js';

const load = (p: string): Promise<any> => import(new URL(`../../frontend/js/${p}`, import.meta.url).href);

let storeMod: any;
beforeAll(async () => {
  (globalThis as any).document ??= { hidden: false };
  storeMod = await load('store.js');
});

const assistant = { id: 'u_assistant1', name: 'assistant' };
const ann = { id: 'u_ann000001', name: 'ann' };
const answerFrame = (id: string, question: string) =>
  JSON.parse(messageFrameHead('general', assistant, 'thinking…', `asst-${question}`) + frameTail({}, id, Number(id.split('-')[0])));
const finalFrame = (id: string, target: string, text: string) =>
  JSON.parse(eventFrameHead('general', assistant, `asst-end-x`, { kind: 'edit', target, text }) + frameTail({}, id, Number(id.split('-')[0])));
const delta = (id: string, text: string) => JSON.parse(deltaFrame('general', id, text, ann.id));

describe('assistant answers in the client store', () => {
  const fresh = () => {
    const s = storeMod.createStore();
    s.setMe({ id: ann.id, username: 'ann' });
    s.applyJoined({ room: 'general', messages: [], events: [], recovered: true, members: [] });
    return s;
  };

  it('thinking…, then each delta is the text while it streams (asker known), then the final edit — never "edited"', () => {
    const s = fresh();
    s.applyMessage(answerFrame('20-0', '19-0'));
    expect(s.view('general', '20-0')).toMatchObject({ text: 'thinking…', thinking: true, streaming: false, answer: true });
    const rev0 = s.revOf('general', '20-0');
    s.applyDelta(delta('20-0', 'Once'));
    s.applyDelta(delta('20-0', 'Once upon'));
    expect(s.view('general', '20-0')).toMatchObject({ text: 'Once upon', thinking: false, streaming: true, asker: ann.id });
    expect(s.revOf('general', '20-0')).toBeGreaterThan(rev0);
    s.applyEvent(finalFrame('21-0', '20-0', 'Once upon a time.'));
    expect(s.view('general', '20-0')).toMatchObject({ text: 'Once upon a time.', streaming: false, thinking: false, editedAt: null });
    // a delta that arrives late (another replica's path) changes nothing
    s.applyDelta(delta('20-0', 'Once upon a'));
    expect(s.view('general', '20-0').text).toBe('Once upon a time.');
  });

  it('a delta for a message not held is ignored; an answer read from history is final; other messages are untouched', () => {
    const s = fresh();
    s.applyDelta(delta('30-0', 'orphan'));
    expect(s.view('general', '30-0')).toBeNull();
    s.applyMessage(JSON.parse(messageFrameHead('general', ann, 'thinking…', 'c1') + frameTail({}, '31-0', 31)));
    s.applyDelta(delta('31-0', 'not an answer'));
    expect(s.view('general', '31-0')).toMatchObject({ text: 'thinking…', answer: false, thinking: false, streaming: false });
    s.prependHistory('general', [{ id: '32-0', room: 'general', user: assistant, text: 'done answer', ts: 32, cid: 'asst-29-0', editedAt: 33 }], false);
    expect(s.view('general', '32-0')).toMatchObject({ text: 'done answer', streaming: false, thinking: false, editedAt: null });
  });
});
