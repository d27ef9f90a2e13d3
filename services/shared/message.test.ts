// The one definition of room log and ingest entry formats (message.ts): what a reaction may be,
// how ingest entries parse (and why a bad one is poison), how a replica reads a log entry.
import { describe, expect, it } from 'vitest';
import type { Attachment } from './attachments.js';
import {
  ingestEntryFields,
  ingestEventFields,
  isEmoji,
  isRoomEvent,
  logEntryOf,
  MAX_EMOJI_CHARS,
  messageFromLogEntry,
  parseIngestEntry,
  type ChatMessage,
  type RoomEvent,
} from './message.js';

const user = { id: 'u1', name: 'Ann' };
const base = { id: '1700000000123-4', room: 'general', user, ts: 1700000000123, cid: 'c1', target: '1700000000000-0' };
const png: Attachment = { id: `a${'1'.repeat(24)}`, name: 'cat.png', type: 'image/png', size: 2048, width: 640, height: 480, thumb: true };
const pdf: Attachment = { id: `a${'2'.repeat(24)}`, name: 'report "Q3".pdf', type: 'application/pdf', size: 0 };

describe('isEmoji', () => {
  it('accepts one emoji grapheme: plain, skin tone, flag, ZWJ sequence, keycap, variation selector', () => {
    for (const e of ['👍', '👍🏽', '🇫🇷', '👩‍💻', '👨‍👩‍👧‍👦', '1️⃣', '#️⃣', '❤️', '❤', '🏳️‍🌈', '🎉']) expect(isEmoji(e), e).toBe(true);
  });

  it('refuses text, several emoji, bare digits and symbols, and anything that is not a string', () => {
    const refused: unknown[] = ['', 'a', 'lol', ':+1:', '👍👍', '🇫🇷🇫🇷', '👍 ', ' 👍', 'a👍', '1', '12', '#', '*', '<b>', 42, null, undefined, ['👍']];
    for (const e of refused) expect(isEmoji(e), JSON.stringify(e)).toBe(false);
    // a grapheme of emoji code points longer than the bound
    const long = `👩${'\u200d👩'.repeat(12)}`;
    expect(long.length).toBeGreaterThan(MAX_EMOJI_CHARS);
    expect(isEmoji(long)).toBe(false);
  });

  it('refuses joiners and selectors alone: a reaction chip must show something', () => {
    for (const e of ['\u200d', '\ufe0f', '\u20e3', '\u200d\u200d', '\ufe0f\u20e3']) expect(isEmoji(e), JSON.stringify(e)).toBe(false);
  });
});

describe('parseIngestEntry', () => {
  it('parses every event kind to its RoomEvent, the inverse of ingestEventFields', () => {
    const events: RoomEvent[] = [
      { ...base, kind: 'edit', text: 'fixed "it" é' },
      { ...base, kind: 'delete' },
      { ...base, kind: 'delete', replyTo: '1699999999999-0' },
      { ...base, kind: 'react', emoji: '👍🏽', on: true },
      { ...base, kind: 'react', emoji: '🇫🇷', on: false },
    ];
    for (const e of events) expect(parseIngestEntry(ingestEventFields(e))).toEqual(e);
    const reply: ChatMessage = { id: base.id, room: 'general', user, text: 'a reply', ts: base.ts, cid: 'c1', replyTo: base.target };
    expect(parseIngestEntry(ingestEntryFields(reply))).toEqual(reply);
  });

  it('names why an entry is poison', () => {
    const edit = ingestEventFields({ ...base, kind: 'edit', text: 'x' });
    const react = ingestEventFields({ ...base, kind: 'react', emoji: '👍', on: true });
    const message = ingestEntryFields({ id: base.id, room: 'general', user, text: 'x', ts: base.ts, cid: 'c1' });
    /** `fields` with `name`'s value replaced (undefined: the pair removed). */
    const withField = (fields: string[], name: string, value: string | undefined) => {
      const out: string[] = [];
      let found = false;
      for (let i = 0; i < fields.length; i += 2) {
        if (fields[i] !== name) {
          out.push(fields[i]!, fields[i + 1]!);
          continue;
        }
        found = true;
        if (value !== undefined) out.push(name, value);
      }
      if (!found && value !== undefined) out.push(name, value);
      return out;
    };
    const cases: [string[], string][] = [
      [withField(edit, 'room', 'Bad Room'), 'invalid room'],
      [withField(edit, 'id', 'x-1'), 'invalid message id'],
      [withField(edit, 'uid', undefined), 'missing uid'],
      [withField(edit, 'name', ''), 'missing name'],
      [withField(edit, 'cid', undefined), 'missing cid'],
      [withField(edit, 'tg', undefined), 'invalid event target'],
      [withField(edit, 'tg', '12'), 'invalid event target'],
      [withField(edit, 'text', undefined), 'missing text'],
      [withField(edit, 'text', ''), 'missing text'],
      [withField(edit, 'text', 'x'.repeat(4001)), 'text too long'],
      [withField(edit, 'ev', 'pin'), 'unknown event kind'],
      [withField(ingestEventFields({ ...base, kind: 'delete' }), 're', 'parent'), 'invalid reply parent'],
      [withField(react, 'emoji', 'lol'), 'invalid emoji'],
      [withField(react, 'emoji', undefined), 'invalid emoji'],
      [withField(react, 'on', 'true'), 'invalid reaction flag'],
      [withField(react, 'on', undefined), 'invalid reaction flag'],
      [withField(message, 're', '5'), 'invalid reply parent'],
      [withField(message, 'text', undefined), 'missing text'],
    ];
    for (const [fields, reason] of cases) expect(parseIngestEntry(fields), JSON.stringify(fields)).toBe(reason);
  });
});

describe('logEntryOf', () => {
  it('reads messages and replies with their live reply count', () => {
    expect(logEntryOf('general', base.id, ['uid', 'u1', 'name', 'Ann', 'text', 'hi', 'cid', 'c1'])).toEqual({
      entry: { id: base.id, room: 'general', user, text: 'hi', ts: base.ts, cid: 'c1' },
    });
    const reply = logEntryOf('general', base.id, ['uid', 'u1', 'name', 'Ann', 'text', 'hi', 'cid', 'c1', 're', base.target, 'rc', '3']);
    expect(reply).toEqual({ entry: { id: base.id, room: 'general', user, text: 'hi', ts: base.ts, cid: 'c1', replyTo: base.target }, replyCount: 3 });
    expect(isRoomEvent(reply.entry)).toBe(false);
    expect(messageFromLogEntry('general', base.id, ['uid', 'u1', 'name', 'Ann', 'text', 'hi', 'cid', 'c1', 're', base.target, 'rc', '3'])).toEqual(reply.entry);
  });

  it('reads every event kind with the counts the script wrote (react `n`, a deleted reply\'s `rc`)', () => {
    const ev = (kind: string, ...rest: string[]) => ['ev', kind, 'uid', 'u1', 'name', 'Ann', 'cid', 'c1', 'tg', base.target, ...rest];
    expect(logEntryOf('general', base.id, ev('edit', 'text', 'new'))).toEqual({ entry: { ...base, kind: 'edit', text: 'new' } });
    expect(logEntryOf('general', base.id, ev('delete'))).toEqual({ entry: { ...base, kind: 'delete' } });
    expect(logEntryOf('general', base.id, ev('delete', 're', '5-0', 'rc', '0'))).toEqual({ entry: { ...base, kind: 'delete', replyTo: '5-0' }, replyCount: 0 });
    expect(logEntryOf('general', base.id, ev('react', 'emoji', '👍', 'on', '1', 'n', '2'))).toEqual({ entry: { ...base, kind: 'react', emoji: '👍', on: true }, count: 2 });
    expect(logEntryOf('general', base.id, ev('react', 'emoji', '👍', 'on', '0', 'n', '0'))).toEqual({ entry: { ...base, kind: 'react', emoji: '👍', on: false }, count: 0 });
    expect(isRoomEvent(logEntryOf('general', base.id, ev('delete')).entry)).toBe(true);
    expect(() => messageFromLogEntry('general', base.id, ev('delete'))).toThrow(/is an event/);
  });
});

describe('attachments on messages (`at`)', () => {
  const message: ChatMessage = { id: base.id, room: 'general', user, text: 'see these', ts: base.ts, cid: 'c1', seq: 7, attachments: [png, pdf] };

  it('round-trips through the ingest entry, text or not, top-level or reply', () => {
    const fields = ingestEntryFields(message);
    expect(fields.slice(-2)).toEqual(['at', JSON.stringify([png, pdf])]);
    expect(parseIngestEntry(fields)).toEqual(message);
    const filesOnly: ChatMessage = { ...message, text: '' };
    expect(parseIngestEntry(ingestEntryFields(filesOnly))).toEqual(filesOnly);
    const reply: ChatMessage = { id: base.id, room: 'general', user, text: '', ts: base.ts, cid: 'c1', replyTo: base.target, attachments: [pdf] };
    expect(parseIngestEntry(ingestEntryFields(reply))).toEqual(reply);
    // none: no field at all, and an empty list is none
    expect(ingestEntryFields({ ...message, attachments: [] })).not.toContain('at');
  });

  it('an entry with a malformed `at`, or with neither text nor files, is poison (a reason, never a throw)', () => {
    const fields = (at: string) => [...ingestEntryFields({ ...message, attachments: undefined }), 'at', at];
    const tooMany = JSON.stringify(Array.from({ length: 11 }, (_, i) => ({ ...pdf, id: `a${String(i).padStart(24, '0')}` })));
    const cases: [string, string][] = [
      ['{', 'invalid attachments (not JSON)'],
      ['null', 'invalid attachments'],
      ['{}', 'invalid attachments'],
      ['[]', 'invalid attachments'],
      [tooMany, 'invalid attachments'],
      [JSON.stringify([{ ...pdf, id: '../../etc/passwd' }]), 'invalid attachments'],
      [JSON.stringify([{ ...pdf, size: -1 }]), 'invalid attachments'],
      [JSON.stringify([{ ...pdf, type: 'text/html; charset=x' }]), 'invalid attachments'],
      [JSON.stringify([{ ...png, width: 0 }]), 'invalid attachments'],
      [JSON.stringify([{ ...png, thumb: false }]), 'invalid attachments'],
      [JSON.stringify([{ ...pdf, name: '' }]), 'invalid attachments'],
    ];
    for (const [at, reason] of cases) expect(parseIngestEntry(fields(at)), at).toBe(reason);
    expect(parseIngestEntry(ingestEntryFields({ ...message, text: '', attachments: undefined }))).toBe('missing text');
    // unknown properties are dropped, not carried into the store
    const extra = parseIngestEntry(fields(JSON.stringify([{ ...pdf, url: 'javascript:x' }])));
    expect(extra).toEqual({ ...message, attachments: [pdf] });
  });

  it('logEntryOf reads them; a malformed list is left off (the message still reads)', () => {
    const log = ['uid', 'u1', 'name', 'Ann', 'text', '', 'cid', 'c1', 'sq', '7'];
    expect(logEntryOf('general', base.id, [...log, 'at', JSON.stringify([png, pdf])])).toEqual({
      entry: { id: base.id, room: 'general', user, text: '', ts: base.ts, cid: 'c1', seq: 7, attachments: [png, pdf] },
    });
    expect(logEntryOf('general', base.id, [...log, 'at', '[{"id":"x"}]'])).toEqual({
      entry: { id: base.id, room: 'general', user, text: '', ts: base.ts, cid: 'c1', seq: 7 },
    });
  });
});
