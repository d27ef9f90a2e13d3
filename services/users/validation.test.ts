// The zod → ApiError bridge, and the request schemas' answers to bad input: the code and the
// message (naming the field and the rule) each refusal had before the schemas replaced the
// hand-written checks — clients and the browser's error texts depend on both.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiError } from './errors.js';
import { accountDeletionBody, credentialsBody, displayNameBody, passwordChangeBody, profilesQuery, refreshTokenBody } from './schemas/auth.js';
import { inboxQuery, markReadBody, mutedBody, statusBody } from './schemas/attention.js';
import { uploadQuery, variantQuery } from './schemas/files.js';
import { createRoomBody, directoryQuery, invitees, muteBody, roomPatchBody } from './schemas/membership.js';
import { aroundQuery, historyQuery, messageIdParam, roomName, userSearchQuery } from './schemas/rooms.js';
import { searchCursor, searchQuery } from './schemas/search.js';
import { parse, queryString, rule } from './validation.js';

/** [code, message] of the ApiError parse throws, or the value. */
function outcome(schema: z.ZodType, value: unknown): unknown {
  try {
    return parse(schema, value);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return [err.code, err.message];
  }
}

describe('parse', () => {
  const body = z.strictObject({ a: z.string(rule('invalid_field', 'a must be a string')), b: z.number(rule('invalid_limit', 'b: a number')) }, rule('invalid_body', 'unknown field'));

  it("answers the first failing rule's code and message", () => {
    expect(outcome(body, { a: 1, b: 'x' })).toEqual(['invalid_field', 'a must be a string']);
    expect(outcome(body, { a: 'ok', b: 'x' })).toEqual(['invalid_limit', 'b: a number']);
    expect(outcome(body, { a: 'ok', b: 2 })).toEqual({ a: 'ok', b: 2 });
  });

  it('reports a rule of the whole body (an unknown field) before any field', () => {
    expect(outcome(body, { a: 1, c: true })).toEqual(['invalid_body', 'unknown field']);
  });

  it('still answers 400 naming the field for a check written without rule()', () => {
    expect(outcome(z.object({ n: z.object({ m: z.string() }) }), { n: { m: 1 } })).toEqual(['invalid_field', expect.stringMatching(/^n\.m: /)]);
  });

  it('takes a query parameter once: twice is invalid_field, absent is the rule given for it', () => {
    const q = z.object({ x: queryString('x', rule('invalid_query', 'x is needed')) });
    expect(outcome(q, { x: ['1', '2'] })).toEqual(['invalid_field', 'x must be given once, as a string']);
    expect(outcome(q, {})).toEqual(['invalid_query', 'x is needed']);
  });
});

describe('the request schemas refuse as the routes always did', () => {
  const cases: [name: string, schema: z.ZodType, value: unknown, expected: unknown][] = [
    ['no username', credentialsBody, { password: 'long-enough' }, ['invalid_username', 'username is required']],
    ['a bad username', credentialsBody, { username: 'no spaces!', password: 'long-enough' }, ['invalid_username', 'username must be a string of 3–32 characters: letters, digits, "_", "." or "-"']],
    ['a short password', credentialsBody, { username: 'frank', password: 'short' }, ['invalid_password', 'password must be a string of 8–128 characters']],
    ['no password', credentialsBody, { username: 'frank' }, ['invalid_password', 'password is required']],
    ['an empty refresh token', refreshTokenBody, { refreshToken: '' }, ['invalid_field', 'refreshToken must be a non-empty string']],
    ['an empty current password', passwordChangeBody, { currentPassword: '', newPassword: 'long-enough' }, ['invalid_field', 'currentPassword must be a string of 1–128 characters']],
    ['no new password', passwordChangeBody, { currentPassword: 'x' }, ['invalid_password', 'newPassword is required']],
    ['no password to delete', accountDeletionBody, {}, ['invalid_field', 'password must be a string of 1–128 characters']],
    ['a display name of spaces (clears it)', displayNameBody, { displayName: '   ' }, { displayName: null }],
    ['a display name with a bidi control', displayNameBody, { displayName: 'a\u202eb' }, ['invalid_field', 'displayName must not contain control or bidi characters']],
    ['a 65-code-point display name', displayNameBody, { displayName: '😀'.repeat(65) }, ['invalid_field', 'displayName must be at most 64 characters']],
    ['no display name', displayNameBody, {}, ['invalid_field', 'displayName must be a string or null']],
    ['profiles of no ids', profilesQuery, {}, ['invalid_field', 'ids must be given once: user ids separated by commas']],
    ['profiles, duplicates once', profilesQuery, { ids: 'a,b,a' }, { ids: ['a', 'b'] }],
    ['a room name in capitals', roomName, 'General', ['invalid_room', expect.stringMatching(/^room must be a public room name/)]],
    ['a DM of unsorted ids', roomName, 'dm:zzz:aaa', ['invalid_room', expect.any(String)]],
    ['a path message id', messageIdParam, '17-x', ['invalid_id', 'the message id in the path must be like 1700000000000-0']],
    ['history, defaults', historyQuery, {}, { limit: 50 }],
    ['history, a capped limit', historyQuery, { before: '1-0', limit: '5000' }, { before: '1-0', limit: 200 }],
    ['history, limit 0', historyQuery, { limit: '0' }, ['invalid_limit', 'limit must be an integer from 1 to 200']],
    ['history, a bad before', historyQuery, { before: 'abc' }, ['invalid_id', 'before must be a message id like 1700000000000-0']],
    ['around, defaults', aroundQuery, { around: '1-0' }, { around: '1-0', limit: 50 }],
    ['around with before', aroundQuery, { around: '1-0', before: '2-0' }, ['invalid_field', 'give around or before, not both']],
    ['a user search of 33 characters', userSearchQuery, { query: 'a'.repeat(33) }, ['invalid_query', 'query must be 1–32 characters']],
    ['a user search without query', userSearchQuery, {}, ['invalid_query', 'query must be 1–32 characters']],
    ['a public room by default (kind null)', createRoomBody, { kind: null, name: 'ok' }, { kind: 'public', name: 'ok', topic: '', members: [] }],
    ['a DM made by REST', createRoomBody, { kind: 'dm' }, ['invalid_field', 'kind must be public, private or group (a DM is made by writing to someone)']],
    ['a public room with a bad name', createRoomBody, { name: 'Bad' }, ['invalid_room', 'name must be a room name: [a-z0-9][a-z0-9_-]{0,63}']],
    ['a two-line title', createRoomBody, { kind: 'private', title: 'a\nb' }, ['invalid_field', 'title must be one line without control characters']],
    ['an empty title', createRoomBody, { kind: 'private', title: '  ' }, ['invalid_field', 'title must be 1–80 characters']],
    ['a topic and archived at once', roomPatchBody, { topic: 5, archived: true }, ['invalid_body', 'change the topic or archived, one per request']],
    ['nothing to change', roomPatchBody, { other: 1 }, ['invalid_body', 'nothing to change: give topic or archived']],
    ['a 30-day-and-a-second mute', muteBody, { userId: 'u1', seconds: 2_592_001 }, ['invalid_field', 'seconds must be an integer from 1 to 2592000']],
    ['a directory query given twice', directoryQuery, { q: ['a', 'b'] }, ['invalid_query', 'q must be at most 64 characters']],
    ['a typo in a mute', mutedBody, { mute: true }, ['invalid_body', 'unknown field mute: this request takes muted']],
    ['a status that is none', statusBody, { status: 'busy' }, ['invalid_field', 'status must be online, away, dnd']],
    ['ids and all', markReadBody, { ids: [], all: true }, ['invalid_body', 'give ids (a list) or all: true, one of them']],
    ['all: false', markReadBody, { all: false }, ['invalid_field', 'all must be true (to mark some, give ids)']],
    ['ids that are not notification ids', markReadBody, { ids: ['!'] }, ['invalid_id', 'ids[] must be a notification id (the id of a listed notification)']],
    ['an inbox limit of 101', inboxQuery, { limit: '101' }, ['invalid_limit', 'limit must be an integer from 1 to 100']],
    ['an inbox of unread ones', inboxQuery, { unread: 'true' }, { limit: 30, unreadOnly: true }],
    ['unread=yes', inboxQuery, { unread: 'yes' }, ['invalid_field', 'unread must be 1 or 0']],
    ['a search without words', searchQuery, { q: '!!' }, ['invalid_query', 'q must contain at least one word (letters or digits)']],
    ['a search before a non-date', searchQuery, { q: 'hi', before: 'yesterday' }, ['invalid_field', 'before must be a time: milliseconds since 1970, or an ISO date like 2024-05-01T12:00:00Z']],
    ['a forged cursor', searchQuery, { q: 'hi', cursor: 'abc' }, ['invalid_field', 'cursor is not a cursor this search gave (nextCursor)']],
    ['a search page', searchQuery, { q: 'hi', from: 'ann', before: '2024-05-01', cursor: searchCursor(40), limit: '5' }, { q: 'hi', from: 'ann', beforeMs: Date.parse('2024-05-01'), offset: 40, limit: 5 }],
    ['a search limit of 51', searchQuery, { q: 'hi', limit: '51' }, ['invalid_limit', 'limit must be an integer from 1 to 50']],
    ['an upload without a name', uploadQuery, {}, { name: '' }],
    ['an upload named twice (no name)', uploadQuery, { name: ['a', 'b'] }, { name: '' }],
    ['a thumbnail by v', variantQuery, { v: 'thumb' }, 'thumb'],
    ['variant wins over v', variantQuery, { variant: 'file', v: 'nonsense' }, 'file'],
    ['a variant that is none', variantQuery, { variant: 'big' }, ['invalid_field', 'variant must be file or thumb']],
  ];
  for (const [name, schema, value, expected] of cases) {
    it(name, () => expect(outcome(schema, value)).toEqual(expected));
  }

  it("counts a group's members without its creator", () => {
    const group = parse(createRoomBody, { kind: 'group', members: ['me', 'a'] });
    expect(() => invitees(group, 'me')).toThrow(/members of a group must be 2–9 other users/);
    expect(invitees(parse(createRoomBody, { kind: 'group', members: ['me', 'a', 'b'] }), 'me')).toEqual(['a', 'b']);
  });
});
