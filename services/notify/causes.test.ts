import { describe, expect, it } from 'vitest';
import type { MembershipEvent } from '../shared/membership.js';
import { ingestEntryFields, MENTION_ROOM, parseIngestItem, readMarkFields, type ChatMessage } from '../shared/message.js';
import type { NotifyPrefs } from '../shared/store/store.js';
import { candidatesOf, needsMembers, planOf, resolvePlan } from './causes.js';
import { planEntries } from './worker.js';

const alice = { id: 'alice1', name: 'alice' };
const GROUP = 'g:AAAAAAAAAAAAAAAA';
const PRIV = 'p:BBBBBBBBBBBBBBBB';
const DM = 'dm:alice1:bob1';

const msg = (over: Partial<ChatMessage>): ChatMessage => ({ id: '1700000000000-1', room: 'general', user: alice, text: 'hi', ts: 1_700_000_000_000, cid: 'c1', ...over });
const ok: NotifyPrefs = { member: true, muted: false, dnd: false };
const prefsOf = (entries: Record<string, Partial<NotifyPrefs>>) => new Map(Object.entries(entries).map(([id, p]) => [id, { ...ok, ...p }]));

/** (userId, kind) pairs a message notifies, with everyone a member and nothing muted. */
function kindsOf(m: ChatMessage, members: string[] = []): [string, string][] {
  const plan = planOf(m)!;
  const everyone = new Set([...members, ...candidatesOf(plan, members)]);
  const prefs = prefsOf(Object.fromEntries([...everyone].map((id) => [id, {}])));
  return resolvePlan(plan, members, prefs).notifications.map((n) => [n.userId, n.kind]);
}

describe('notify causes', () => {
  it('a plain message in a public room notifies nobody', () => {
    expect(kindsOf(msg({}))).toEqual([]);
  });

  it('mentions notify the mentioned users, never the author', () => {
    expect(kindsOf(msg({ mentions: ['bob1', 'carol1', 'alice1'] }))).toEqual([['bob1', 'mention'], ['carol1', 'mention']]);
  });

  it('@room mentions every member but the author, read from the member list', () => {
    const plan = planOf(msg({ room: PRIV, mentions: [MENTION_ROOM] }))!;
    expect(needsMembers(plan)).toBe(true);
    expect(kindsOf(msg({ room: PRIV, mentions: [MENTION_ROOM] }), ['alice1', 'bob1', 'carol1'])).toEqual([['bob1', 'mention'], ['carol1', 'mention']]);
  });

  it('one notification per user, the first kind that applies: mention > reply > dm > group', () => {
    // bob is mentioned AND the parent's author AND a group member: one mention.
    expect(kindsOf(msg({ room: GROUP, mentions: ['bob1'], replyTo: '1-0', replyToUser: 'bob1' }), ['alice1', 'bob1', 'carol1'])).toEqual([
      ['bob1', 'mention'],
      ['carol1', 'group'],
    ]);
    // @room outranks the reply too.
    expect(kindsOf(msg({ room: GROUP, mentions: [MENTION_ROOM], replyTo: '1-0', replyToUser: 'carol1' }), ['alice1', 'bob1', 'carol1'])).toEqual([
      ['bob1', 'mention'],
      ['carol1', 'mention'],
    ]);
    // In a DM a reply to the peer's message is a reply, any other message a dm.
    expect(kindsOf(msg({ room: DM, replyTo: '1-0', replyToUser: 'bob1' }))).toEqual([['bob1', 'reply']]);
    expect(kindsOf(msg({ room: DM }))).toEqual([['bob1', 'dm']]);
    expect(kindsOf(msg({ room: DM, user: { id: 'bob1', name: 'bob' } }))).toEqual([['alice1', 'dm']]);
  });

  it('a notification of a thread reply names its parent (the client opens the thread)', () => {
    const plan = planOf(msg({ replyTo: '1-0', replyToUser: 'bob1' }))!;
    const [n] = resolvePlan(plan, [], prefsOf({ bob1: {} })).notifications;
    expect(n).toMatchObject({ userId: 'bob1', kind: 'reply', replyTo: '1-0' });
    const [top] = resolvePlan(planOf(msg({ mentions: ['bob1'] }))!, [], prefsOf({ bob1: {} })).notifications;
    expect(top).not.toHaveProperty('replyTo');
  });

  it('a reply to your own message notifies nobody', () => {
    expect(kindsOf(msg({ replyTo: '1-0', replyToUser: 'alice1' }))).toEqual([]);
  });

  it('a group message notifies the other members', () => {
    expect(kindsOf(msg({ room: GROUP }), ['alice1', 'bob1', 'carol1'])).toEqual([['bob1', 'group'], ['carol1', 'group']]);
  });

  it('drops unknown users, non-members and muted rooms; keeps DND users (stored, not pushed)', () => {
    const plan = planOf(msg({ room: PRIV, mentions: ['bob1', 'carol1', 'dave1', 'erin1'] }))!;
    const r = resolvePlan(plan, [], prefsOf({ bob1: { member: false }, carol1: { muted: true }, erin1: { dnd: true } }));
    expect(r.notifications.map((n) => n.userId)).toEqual(['erin1']);
    expect(r.dropped.sort()).toEqual(['muted', 'not_member', 'unknown_user']);
  });

  it('an invite notifies the member even in a room they muted, but not once they are no member', () => {
    const invite: MembershipEvent = {
      kind: 'member', action: 'invited', id: '1700000000000-5', room: PRIV, user: alice, ts: 1_700_000_000_000, cid: 'm1', member: { id: 'bob1', name: 'bob' }, role: 'member',
    };
    const plan = planOf(invite)!;
    expect(resolvePlan(plan, [], prefsOf({ bob1: { muted: true } })).notifications).toEqual([
      { userId: 'bob1', kind: 'invite', room: PRIV, sourceId: invite.id, actor: alice, text: '', ts: invite.ts },
    ]);
    expect(resolvePlan(plan, [], prefsOf({ bob1: { member: false } })).notifications).toEqual([]);
    expect(planOf({ ...invite, action: 'joined' })).toBeNull();
    expect(planOf({ ...invite, action: 'kicked' })).toBeNull();
  });

  it('the notification carries the message as its source, the author as actor and a preview of at most 140 characters', () => {
    const m = msg({ room: DM, text: 'x'.repeat(300) + ' end' });
    const [n] = resolvePlan(planOf(m)!, [], prefsOf({ bob1: {} })).notifications;
    expect(n).toEqual({ userId: 'bob1', kind: 'dm', room: DM, sourceId: m.id, actor: alice, text: 'x'.repeat(140), ts: m.ts });
  });

  it('edits, reactions and read marks notify nobody', () => {
    expect(planOf({ kind: 'edit', id: '2-0', room: DM, user: alice, ts: 2, cid: 'e', target: '1-0', text: '@bob' })).toBeNull();
    expect(planOf({ kind: 'react', id: '2-0', room: DM, user: alice, ts: 2, cid: 'e', target: '1-0', emoji: '👍', on: true })).toBeNull();
    const mark = parseIngestItem(readMarkFields({ room: DM, user: alice, id: '1-0', seq: 1 }));
    expect(typeof mark).toBe('object');
    expect(planOf(mark as Exclude<typeof mark, string>)).toBeNull();
  });
});

describe('planEntries', () => {
  const entry = (id: string, fields: string[] | null) => ({ stream: 's', partition: 0, id, fields, deliveries: 1 });

  it('plans each entry once, counts poison and entries gone from the stream', () => {
    const dm = msg({ room: DM });
    const fields = ingestEntryFields(dm);
    const r = planEntries([entry('1-0', fields), entry('1-0', fields), entry('2-0', ['room', 'general', 'id', 'junk']), entry('3-0', null)]);
    expect(r.plans.map((p) => p.sourceId)).toEqual([dm.id]);
    expect(r.skipped).toEqual({ poison: 1, trimmed: 1 });
  });
});
