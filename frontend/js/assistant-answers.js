// The assistant's answers in the client (issue 17; docs/PROTOCOL.md `delta`). An answer is an
// ordinary message from the user `assistant` whose cid is `asst-<question id>`: it arrives as
// `thinking…`, `delta` frames carry the whole answer so far while it is written (transient: a
// reload or a resume shows `thinking…` until the next one), and one `edit` ends it. The edit is
// the answer's own completion, so an answer never shows "(edited)". The asker gets a stop button
// while it streams (api.js stopAnswer). No DOM here: unit-tested in Node.

export const ASSISTANT_NAME = 'assistant';
export const THINKING_TEXT = 'thinking…';

/** An answer of the assistant (its placeholder cid), whatever its state. */
export const isAnswer = (msg) =>
  !!msg && !!msg.user && msg.user.name === ASSISTANT_NAME && typeof msg.cid === 'string' && msg.cid.startsWith('asst-');

/**
 * A `delta` frame on the message it streams into; true when what it shows changed. Ignored once
 * the final edit (or a delete) applied: a late delta never overwrites the stored answer.
 */
export function applyDelta(msg, f) {
  if (!msg || msg.deleted || msg.version !== null || typeof f.text !== 'string') return false;
  if (msg.stream && msg.stream.text === f.text) return false;
  msg.stream = { text: f.text, asker: typeof f.asker === 'string' ? f.asker : null };
  msg.rev++;
  return true;
}

/**
 * The answer-specific part of a message's view: `streaming` (text is the answer so far, the
 * asker may stop it), `thinking` (nothing written yet), and whether "(edited)" is hidden.
 */
export function answerState(msg, deleted) {
  if (!isAnswer(msg) || deleted) return { answer: false, streaming: false, thinking: false, asker: null };
  const open = msg.version === null && msg.editedAt === null;
  const streaming = open && !!msg.stream;
  return {
    answer: true,
    streaming,
    thinking: open && !streaming && msg.text === THINKING_TEXT,
    asker: streaming ? msg.stream.asker : null,
    text: streaming ? msg.stream.text : undefined,
  };
}
