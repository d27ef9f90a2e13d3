// Display names and avatars by user id. Messages carry only `user.name` (the username, which
// never changes), so names and pictures are looked up here: authors not known yet are fetched in
// batches (GET /api/users/profiles, at most 100 ids a request) a tick after they are first asked
// for, member lists / my-rooms peers / user search answers feed the cache as they arrive, and
// `profile` frames replace one user's entry live. Listeners hear which ids changed so the screen
// patches only those (ui/avatar.js), never rebuilding a list.
// A deleted account (`deleted`: GET /api/users/profiles or the `profile` frame) shows as "Deleted
// user" with no picture, and stays so: deletion is final, and the sources that do not say
// (member lists, my rooms' peers) never bring the old name back. A DM's peer comes only from
// my rooms, which does not tell, so its profile is asked for once (`confirm`).
import { STRINGS } from './strings.js';

const BATCH = 100;

/** A profile as the server sends it, or null when it is not one. */
export function profileOf(u) {
  if (!u || typeof u.id !== 'string') return null;
  const username = String(u.username ?? u.name ?? '');
  const p = { id: u.id, username };
  if (typeof u.displayName === 'string' && u.displayName) p.displayName = u.displayName;
  if (typeof u.avatar === 'string' && u.avatar) p.avatar = u.avatar;
  if (u.deleted === true) p.deleted = true;
  return p;
}

const same = (a, b) => !!a && a.username === b.username && a.displayName === b.displayName && a.avatar === b.avatar && a.deleted === b.deleted;

/**
 * @param o.fetchProfiles (ids) => Promise<{profiles}> (api.profiles); injected for node tests
 * @param o.defer         runs the batch later (queueMicrotask in the page)
 */
export function createProfiles({ fetchProfiles, defer = (fn) => setTimeout(fn, 0) } = {}) {
  const byId = new Map();
  const wanted = new Set(); // ids asked for, not fetched yet
  const asked = new Set(); // ids fetched (found or not): not asked again until a reconnect
  const confirmed = new Set(); // ids answered by a source that would say `deleted`
  const listeners = new Set();
  let scheduled = false;
  let generation = 0; // bumped by reset(): answers of an older session are dropped

  function emit(ids) {
    if (!ids.length) return;
    for (const fn of listeners) fn(ids);
  }

  /** Stores what the server said about users; notifies about the ones that changed. */
  function learn(list) {
    const changed = [];
    for (const u of list || []) {
      const p = profileOf(u);
      if (!p || !p.username) continue;
      // Every source fed here (profiles, member lists, peers, user search) sends the whole
      // profile: a field left out is a field not set.
      const old = byId.get(p.id);
      asked.add(p.id);
      if (old && old.deleted) continue; // final
      if (same(old, p)) continue;
      byId.set(p.id, p);
      changed.push(p.id);
    }
    emit(changed);
  }

  async function flush() {
    scheduled = false;
    const gen = generation;
    const ids = [...wanted];
    wanted.clear();
    for (let i = 0; i < ids.length; i += BATCH) {
      const part = ids.slice(i, i + BATCH);
      for (const id of part) asked.add(id);
      try {
        const res = await fetchProfiles(part);
        if (gen !== generation) continue;
        for (const id of part) confirmed.add(id);
        learn((res && res.profiles) || []);
      } catch {
        // Shown by username meanwhile; asked again after the next reconnect.
        if (gen === generation) for (const id of part) asked.delete(id);
      }
    }
  }

  function schedule() {
    if (wanted.size && !scheduled && fetchProfiles) {
      scheduled = true;
      defer(flush);
    }
  }

  return {
    get: (id) => byId.get(id) || null,
    /** The name to show: the display name when set, else the username (else `fallback`). */
    nameOf(id, fallback = '') {
      const p = byId.get(id);
      if (p && p.deleted) return STRINGS.account.deletedUser;
      return (p && (p.displayName || p.username)) || fallback;
    },
    avatarOf: (id) => (byId.get(id)?.deleted ? null : byId.get(id)?.avatar || null),
    isDeleted: (id) => !!byId.get(id)?.deleted,
    /** Asks for these users' profiles when not known yet (batched). */
    want(ids) {
      for (const id of ids) if (typeof id === 'string' && id && !asked.has(id) && !byId.has(id)) wanted.add(id);
      schedule();
    },
    /** Asks once for these users' profiles when only a source that does not tell deletion gave them. */
    confirm(ids) {
      for (const id of ids) if (typeof id === 'string' && id && !confirmed.has(id) && !byId.get(id)?.deleted) wanted.add(id);
      schedule();
    },
    learn,
    /** A `profile` frame: the user's whole profile now (absent fields are cleared); `deleted` rides on the frame. */
    applyFrame(f) {
      if (!f || !f.user) return;
      if (typeof f.user.id === 'string') confirmed.add(f.user.id);
      learn([f.deleted === true ? { ...f.user, deleted: true } : f.user]);
    },
    /** After a reconnect `profile` frames may have been missed: ask again for everyone known. */
    refetchAll() {
      const ids = [...byId.keys()];
      asked.clear();
      for (const id of ids) wanted.add(id);
      schedule();
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    reset() {
      generation++;
      byId.clear();
      wanted.clear();
      asked.clear();
      confirmed.clear();
    },
  };
}

/**
 * Feeds `profiles` from the answers that already carry profiles (member lists, my rooms' peers,
 * user search) by wrapping those api methods: no caller has to remember to.
 */
export function feedFromApi(api, profiles) {
  const tap = (name, pick, then = () => {}) => {
    const orig = api[name];
    api[name] = async (...args) => {
      const res = await orig(...args);
      try {
        profiles.learn(pick(res));
        then(res);
      } catch {
        /* an odd answer is the caller's problem, not the cache's */
      }
      return res;
    };
  };
  tap('members', (res) => res?.members || []);
  tap('searchUsers', (res) => res?.users || []);
  // A DM peer's account may have been deleted, which my rooms does not say.
  const dmPeerIds = (res) => (res?.rooms || []).filter((r) => r && r.kind === 'dm').flatMap((r) => (r.peers || []).map((p) => p && p.id));
  tap('myRooms', (res) => (res?.rooms || []).flatMap((r) => r.peers || []), (res) => profiles.confirm(dmPeerIds(res)));
}
