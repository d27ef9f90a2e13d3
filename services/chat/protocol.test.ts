import { describe, expect, it } from 'vitest';
import { parseClientFrame, parseSubprotocols } from './protocol.js';
import { errorFrame } from './frames.js';

const err = (raw: string) => {
  const r = parseClientFrame(raw);
  if (r.ok) throw new Error(`expected an error for ${raw}`);
  return r.error;
};

describe('protocol v1 frame validation', () => {
  it('accepts every client frame type', () => {
    expect(parseClientFrame('{"type":"join","room":"general"}')).toEqual({ ok: true, frame: { type: 'join', room: 'general' } });
    expect(parseClientFrame('{"type":"join","room":"general","since":"12-3"}')).toEqual({ ok: true, frame: { type: 'join', room: 'general', since: '12-3' } });
    expect(parseClientFrame('{"type":"leave","room":"dm:a:b"}')).toEqual({ ok: true, frame: { type: 'leave', room: 'dm:a:b' } });
    expect(parseClientFrame('{"type":"send","room":"r","text":"hi","cid":"c1"}')).toEqual({ ok: true, frame: { type: 'send', room: 'r', text: 'hi', cid: 'c1' } });
    expect(parseClientFrame('{"type":"typing","room":"r","active":false}')).toEqual({ ok: true, frame: { type: 'typing', room: 'r', active: false } });
    expect(parseClientFrame('{"type":"ping","t":5}')).toEqual({ ok: true, frame: { type: 'ping', t: 5 } });
    expect(parseClientFrame('{"type":"auth","token":"x.y.z"}')).toEqual({ ok: true, frame: { type: 'auth', token: 'x.y.z' } });
  });

  it('replaces a lone surrogate in a text with U+FFFD, so live frames and the UTF-8 room log carry the same text', () => {
    const r = parseClientFrame('{"type":"send","room":"r","text":"a\\ud800b \\udc00 \\ud83d\\ude00","cid":"c"}');
    expect(r).toEqual({ ok: true, frame: { type: 'send', room: 'r', text: 'a\ufffdb \ufffd \u{1F600}', cid: 'c' } });
  });

  it('maps bad input to its code and echoes the cid as ref', () => {
    expect(err('nope').code).toBe('bad_request');
    expect(err('[1]').code).toBe('bad_request');
    expect(err('null').code).toBe('bad_request');
    expect(err('{"type":"fly"}').code).toBe('bad_request');
    expect(err('{"type":"join"}').code).toBe('bad_request');
    expect(err('{"type":"join","room":"UPPER"}').code).toBe('invalid_room');
    expect(err('{"type":"join","room":"dm:b:a"}').code).toBe('invalid_room'); // unsorted DM name
    expect(err('{"type":"join","room":"r","since":"abc"}').code).toBe('bad_request');
    expect(err('{"type":"send","room":"r","text":"","cid":"c"}')).toMatchObject({ code: 'bad_request', ref: 'c' });
    expect(err('{"type":"send","room":"r","cid":"c"}')).toMatchObject({ code: 'bad_request', ref: 'c' });
    expect(err('{"type":"send","room":"r","text":"x"}').code).toBe('bad_request');
    expect(err('{"type":"send","room":"r","text":"x","cid":"bad cid"}').code).toBe('bad_request');
    expect(err(JSON.stringify({ type: 'send', room: 'r', text: 'x'.repeat(4001), cid: 'c' }))).toMatchObject({ code: 'too_long', ref: 'c', strike: false });
    expect(err('{"type":"send","room":"Bad!","text":"x","cid":"c"}')).toMatchObject({ code: 'invalid_room', ref: 'c' });
    expect(err('{"type":"typing","room":"r"}').code).toBe('bad_request');
    expect(err('{"type":"auth"}').code).toBe('bad_request');
    expect(err('nope').strike).toBe(true);
  });

  it('parses the offered subprotocols and builds error frames', () => {
    expect(parseSubprotocols('aurora.v1, bearer.abc')).toEqual({ token: 'abc' });
    expect(parseSubprotocols('bearer.abc,aurora.v1')).toEqual({ token: 'abc' });
    expect(parseSubprotocols('bearer.abc')).toBeNull();
    expect(parseSubprotocols('aurora.v1, bearer.')).toBeNull();
    expect(parseSubprotocols(undefined)).toBeNull();
    expect(JSON.parse(errorFrame('rate_limited', 'slow', 'c', 500))).toEqual({ type: 'error', code: 'rate_limited', message: 'slow', ref: 'c', retryAfterMs: 500 });
    expect(JSON.parse(errorFrame('rate_limited', 'slow', 'c', 500, 'account'))).toEqual({ type: 'error', code: 'rate_limited', message: 'slow', ref: 'c', retryAfterMs: 500, limit: 'account' });
  });

  it('parses edit, delete and react of a message id, and send with replyTo', () => {
    expect(parseClientFrame('{"type":"send","room":"r","text":"hi","cid":"c1","replyTo":"12-3"}')).toEqual({
      ok: true,
      frame: { type: 'send', room: 'r', text: 'hi', cid: 'c1', replyTo: '12-3' },
    });
    expect(parseClientFrame('{"type":"send","room":"r","text":"hi","cid":"c1","replyTo":null}')).toEqual({ ok: true, frame: { type: 'send', room: 'r', text: 'hi', cid: 'c1' } });
    expect(parseClientFrame('{"type":"edit","room":"r","id":"12-3","text":"fixed","cid":"e1"}')).toEqual({
      ok: true,
      frame: { type: 'edit', room: 'r', id: '12-3', text: 'fixed', cid: 'e1' },
    });
    expect(parseClientFrame('{"type":"delete","room":"dm:a:b","id":"12-3","cid":"d1"}')).toEqual({ ok: true, frame: { type: 'delete', room: 'dm:a:b', id: '12-3', cid: 'd1' } });
    for (const emoji of ['👍', '👍🏽', '🇫🇷', '👩‍💻', '❤️', '1️⃣']) {
      for (const on of [true, false]) {
        expect(parseClientFrame(JSON.stringify({ type: 'react', room: 'r', id: '12-3', emoji, on, cid: 'r1' }))).toEqual({
          ok: true,
          frame: { type: 'react', room: 'r', id: '12-3', emoji, on, cid: 'r1' },
        });
      }
    }
    // an edit's text is normalised like a send's
    expect(parseClientFrame('{"type":"edit","room":"r","id":"1-0","text":"a\\ud800","cid":"e"}')).toMatchObject({ ok: true, frame: { text: 'a\ufffd' } });
  });

  it('refuses malformed edit, delete, react and replyTo with the right code, echoing the cid', () => {
    const base = { room: 'r', id: '12-3', cid: 'c9' };
    const e = (o: object) => err(JSON.stringify(o));
    expect(e({ type: 'send', room: 'r', text: 'x', cid: 'c9', replyTo: 'abc' })).toMatchObject({ code: 'bad_request', ref: 'c9', strike: true });
    expect(e({ type: 'send', room: 'r', text: 'x', cid: 'c9', replyTo: 5 })).toMatchObject({ code: 'bad_request', ref: 'c9' });
    for (const type of ['edit', 'delete', 'react']) {
      expect(e({ type, room: 'r', text: 'x', emoji: '👍', on: true, cid: 'c9' })).toMatchObject({ code: 'bad_request', ref: 'c9' }); // no id
      expect(e({ type, ...base, id: '12', text: 'x', emoji: '👍', on: true })).toMatchObject({ code: 'bad_request', ref: 'c9' });
      expect(e({ type, ...base, id: `${2 ** 53}-0`, text: 'x', emoji: '👍', on: true })).toMatchObject({ code: 'bad_request', ref: 'c9' });
      expect(e({ type, ...base, cid: undefined, text: 'x', emoji: '👍', on: true }).code).toBe('bad_request'); // no cid
      expect(e({ type, ...base, room: 'Nope!', text: 'x', emoji: '👍', on: true })).toMatchObject({ code: 'invalid_room', ref: 'c9', strike: false });
    }
    expect(e({ type: 'edit', ...base })).toMatchObject({ code: 'bad_request', ref: 'c9' }); // no text
    expect(e({ type: 'edit', ...base, text: '   ' })).toMatchObject({ code: 'bad_request', ref: 'c9' });
    expect(e({ type: 'edit', ...base, text: 'x'.repeat(4001) })).toMatchObject({ code: 'too_long', ref: 'c9', strike: false });
    for (const emoji of [undefined, '', 'lol', ':+1:', '👍👍', '1', '#', 'a👍', '👍 ', 42]) {
      expect(e({ type: 'react', ...base, emoji, on: true })).toMatchObject({ code: 'bad_request', ref: 'c9' });
    }
    expect(e({ type: 'react', ...base, emoji: '👍' })).toMatchObject({ code: 'bad_request', ref: 'c9' }); // no on
    expect(e({ type: 'react', ...base, emoji: '👍', on: 'yes' })).toMatchObject({ code: 'bad_request', ref: 'c9' });
  });
});
