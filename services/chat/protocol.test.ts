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
});
