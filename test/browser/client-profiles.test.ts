// Unit tests of the client's profile cache (frontend/js/profiles.js), loaded as it is served:
// unknown authors fetched in batches of at most 100 ids, each asked once; the display name shown
// when set, else the username; a `profile` frame replaces the whole entry (a cleared name or
// picture is gone) and notifies only on a real change; a failed fetch is asked again; answers of
// a signed-out session are dropped; a reconnect asks again for everyone known.
import { beforeAll, describe, expect, it } from 'vitest';

const load = (p: string): Promise<any> => import(new URL(`../../frontend/js/${p}`, import.meta.url).href);
let mod: any;
beforeAll(async () => {
  mod = await load('profiles.js');
});

function harness(answer = (ids: string[]) => ({ profiles: ids.map((id) => ({ id, username: `user-${id}` })) })) {
  const calls: string[][] = [];
  const queue: (() => unknown)[] = [];
  let fail = false;
  const profiles = mod.createProfiles({
    fetchProfiles: async (ids: string[]) => {
      calls.push(ids);
      if (fail) throw new Error('offline');
      return answer(ids);
    },
    defer: (fn: () => unknown) => queue.push(fn),
  });
  const changed: string[][] = [];
  profiles.onChange((ids: string[]) => changed.push(ids));
  const run = async () => {
    while (queue.length) await queue.shift()!();
  };
  return { profiles, calls, changed, run, setFail: (v: boolean) => (fail = v) };
}

describe('profiles cache', () => {
  it('fetches unknown users in batches of at most 100, once each', async () => {
    const t = harness();
    const ids = Array.from({ length: 150 }, (_, i) => `u${i}`);
    t.profiles.want(ids.slice(0, 80));
    t.profiles.want(ids.slice(40)); // overlaps: each id asked once
    await t.run();
    expect(t.calls.map((c) => c.length)).toEqual([100, 50]);
    expect(new Set(t.calls.flat()).size).toBe(150);
    t.profiles.want(['u3', 'u149']);
    await t.run();
    expect(t.calls.length).toBe(2);
    expect(t.profiles.nameOf('u3')).toBe('user-u3');
  });

  it('shows the display name when set, else the username; a frame replaces the whole profile', () => {
    const t = harness();
    t.profiles.learn([{ id: 'a', username: 'alice', displayName: 'Alice L.', avatar: 'av1' }]);
    expect(t.profiles.nameOf('a')).toBe('Alice L.');
    expect(t.profiles.avatarOf('a')).toBe('av1');
    expect(t.profiles.nameOf('zz', 'fallback')).toBe('fallback');
    t.profiles.applyFrame({ type: 'profile', user: { id: 'a', name: 'alice' } });
    expect(t.profiles.nameOf('a')).toBe('alice');
    expect(t.profiles.avatarOf('a')).toBeNull();
    expect(t.changed).toEqual([['a'], ['a']]);
    // The same profile again (once per shared room): no change to repaint.
    t.profiles.applyFrame({ type: 'profile', user: { id: 'a', name: 'alice' } });
    expect(t.changed.length).toBe(2);
  });

  it('asks again after a failed fetch and after a reconnect; drops answers of an ended session', async () => {
    const t = harness();
    t.setFail(true);
    t.profiles.want(['x']);
    await t.run();
    expect(t.profiles.get('x')).toBeNull();
    t.setFail(false);
    t.profiles.want(['x']);
    await t.run();
    expect(t.profiles.nameOf('x')).toBe('user-x');
    t.profiles.refetchAll();
    await t.run();
    expect(t.calls.at(-1)).toEqual(['x']);

    t.profiles.want(['y']);
    t.profiles.reset();
    await t.run();
    expect(t.profiles.get('y')).toBeNull();
    expect(t.profiles.get('x')).toBeNull();
  });
});
