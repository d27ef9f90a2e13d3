// Unit tests of the client's side of account deletion (issue 16), modules loaded as they are
// served, frames made by services/chat/frames.ts: a deleted profile shows as "Deleted user" with
// no picture and stays so whatever a source that does not tell deletion says later; a DM peer
// known only from my rooms is asked for once; messages of an account whose messages were
// removed become tombstones, held or arriving later, and leave their parent's reply count; what
// the device keeps for the user is forgotten; system lines and @name completion take the shown
// names.
import { beforeAll, describe, expect, it } from 'vitest';
import { frameTail, messageFrameHead, profileFrame } from '../../services/chat/frames.js';

const load = (p: string): Promise<any> => import(new URL(`../../frontend/js/${p}`, import.meta.url).href);
let profilesMod: any;
let storeMod: any;
let deletion: any;
let systemLine: any;
let complete: any;

beforeAll(async () => {
  (globalThis as any).document ??= { hidden: false }; // store.js reads document.hidden
  profilesMod = await load('profiles.js');
  storeMod = await load('store.js');
  deletion = await load('account-deletion.js');
  systemLine = await load('ui/system-line.js');
  complete = await load('ui/mention-complete.js');
});

function cache(answer: (ids: string[]) => any[]) {
  const calls: string[][] = [];
  const queue: (() => unknown)[] = [];
  const profiles = profilesMod.createProfiles({
    fetchProfiles: async (ids: string[]) => (calls.push(ids), { profiles: answer(ids) }),
    defer: (fn: () => unknown) => queue.push(fn),
  });
  const run = async () => {
    while (queue.length) await queue.shift()!();
  };
  return { profiles, calls, run };
}

describe('profiles.js: a deleted account', () => {
  it('shows as "Deleted user" without a picture from a `profile` frame, and stays so', () => {
    const { profiles } = cache(() => []);
    profiles.learn([{ id: 'z', username: 'zelda', displayName: 'Zelda Z.', avatar: 'av1' }]);
    const changed: string[][] = [];
    profiles.onChange((ids: string[]) => changed.push(ids));
    profiles.applyFrame(JSON.parse(profileFrame({ id: 'z', name: 'zelda' }, { deleted: true })));
    expect(profiles.nameOf('z', 'zelda')).toBe('Deleted user');
    expect(profiles.avatarOf('z')).toBeNull();
    expect(profiles.isDeleted('z')).toBe(true);
    expect(changed).toEqual([['z']]);
    // A member list or my rooms' peers do not say `deleted`: they never bring the old name back.
    profiles.learn([{ id: 'z', username: 'zelda', displayName: 'Zelda Z.' }]);
    expect(profiles.nameOf('z')).toBe('Deleted user');
    expect(changed.length).toBe(1);
  });

  it('asks once for a DM peer my rooms named, which does not tell deletion; others are not asked', async () => {
    const t = cache((ids) => ids.map((id) => ({ id, username: id === 'z' ? 'zelda' : id, ...(id === 'z' && { deleted: true }) })));
    const api: any = {
      myRooms: async () => ({
        rooms: [
          { name: 'dm:a:z', kind: 'dm', peers: [{ id: 'z', username: 'zelda' }] },
          { name: 'g:1', kind: 'group', peers: [{ id: 'c', username: 'carol' }] },
        ],
      }),
    };
    profilesMod.feedFromApi(api, t.profiles);
    await api.myRooms();
    expect(t.profiles.nameOf('z')).toBe('zelda'); // until the answer comes
    await t.run();
    expect(t.calls).toEqual([['z']]);
    expect(t.profiles.nameOf('z')).toBe('Deleted user');
    expect(t.profiles.nameOf('c')).toBe('carol');
    await api.myRooms(); // asked once per session
    await t.run();
    expect(t.calls.length).toBe(1);
  });
});

describe('store.js: the messages of an account whose messages were removed', () => {
  const zelda = { id: 'z', name: 'zelda' };
  const bob = { id: 'b', name: 'bob' };
  const frame = (id: string, user: typeof bob, text: string, replyTo?: string, replyCount?: number) =>
    JSON.parse(messageFrameHead('general', user, text, `c-${id}`, replyTo) + frameTail({ replyCount }, id, Number(id.split('-')[0])));

  it('become tombstones, held or arriving later; a removed reply leaves its parent\'s count', async () => {
    const s = storeMod.createStore();
    s.setMe({ id: 'b', username: 'bob' });
    s.applyMessage(frame('100-0', bob, 'a question'));
    s.applyMessage(frame('101-0', zelda, 'her answer', '100-0', 1));
    s.applyMessage(frame('102-0', bob, 'another reply', '100-0', 2));
    s.applyMessage(frame('103-0', zelda, 'her message'));
    await Promise.resolve(); // the adds' notifications go first
    const topics: Set<string>[] = [];
    s.subscribe((t: Set<string>) => topics.push(t));
    s.removeMessagesOf('z');
    expect(s.view('general', '103-0')).toMatchObject({ deleted: true, text: '' });
    expect(s.view('general', '101-0')).toMatchObject({ deleted: true, text: '' });
    expect(s.view('general', '100-0')).toMatchObject({ deleted: false, text: 'a question', replyCount: 1 });
    expect(s.view('general', '102-0').deleted).toBe(false);
    await Promise.resolve();
    expect([...topics[0]!].sort()).toEqual(['messages:general', 'removedAuthors']);
    // The room log replayed on a resume brings her old frames again: still tombstones.
    s.applyMessage(frame('99-0', zelda, 'an older one'));
    expect(s.view('general', '99-0').deleted).toBe(true);
    s.reset();
    expect(s.state.removedAuthors.size).toBe(0);
  });
});

describe('account-deletion.js', () => {
  function memoryStorage(init: Record<string, string>) {
    const m = new Map(Object.entries(init));
    return {
      get length() {
        return m.size;
      },
      key: (i: number) => [...m.keys()][i] ?? null,
      getItem: (k: string) => m.get(k) ?? null,
      setItem: (k: string, v: string) => void m.set(k, v),
      removeItem: (k: string) => void m.delete(k),
      dump: () => Object.fromEntries(m),
    };
  }

  it('forgets what the device keeps for the user, and only that', () => {
    const storage = memoryStorage({
      'aurora.outbox.u1': '[]',
      'aurora.current.u1': 'general',
      'aurora.hidden.u1': '[]',
      'aurora.dnd.u1': '1',
      'aurora.outbox.u12': '[]', // another user whose id starts the same
      'aurora.theme': 'dark',
      'aurora.names': JSON.stringify({ u1: 'zelda', u2: 'bob' }),
    });
    deletion.forgetUserOnDevice('u1', storage);
    expect(storage.dump()).toEqual({ 'aurora.outbox.u12': '[]', 'aurora.theme': 'dark', 'aurora.names': JSON.stringify({ u2: 'bob' }) });
  });

  it('says a wrong password as such, and the wait when throttled', () => {
    expect(deletion.deletionErrorText({ status: 401, code: 'invalid_credentials' })).toBe('Wrong password.');
    expect(deletion.deletionErrorText({ status: 429, code: 'too_many_attempts', retryAfterSec: 30 })).toBe('Too many attempts. Try again in 30 seconds.');
    expect(deletion.deletionErrorText({ status: 0, code: 'network' })).toMatch(/connection/);
  });
});

describe('shown names in words', () => {
  it('system lines write people with the given names', () => {
    const ev = { kind: 'member', action: 'kicked', user: { id: 'a', name: 'alice' }, member: { id: 'z', name: 'zelda' } };
    expect(systemLine.systemText(ev)).toBe('zelda was kicked by alice');
    expect(systemLine.systemText(ev, (u: { id: string }) => (u.id === 'z' ? 'Deleted user' : 'Alice L.'))).toBe('Deleted user was kicked by Alice L.');
  });

  it('@name completion matches a word of the display name and offers the username', () => {
    const people = [{ id: 'c', name: 'carol' }, { id: 'd', name: 'dave' }];
    const shown = (u: { id: string }) => (u.id === 'c' ? 'Carol Danvers' : '');
    expect(complete.suggestNames(people, 'danv', 'me', [], shown)).toEqual(['carol']);
    expect(complete.suggestNames(people, 'da', 'me', [], shown)).toEqual(['dave', 'carol']);
  });
});
