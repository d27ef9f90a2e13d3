// REST client for the users service (docs/REST.md, /api/docs), in a browser or in Node. The
// access token travels only in the Authorization header. A 401 on an authenticated call
// refreshes the token pair once (single flight; serialised across tabs when `locks` is given —
// the browser passes navigator.locks — so two tabs never spend the same rotating refresh token)
// and retries. The session lives in `storage` (localStorage-shaped; in memory by default) so a
// browser reload stays signed in; a bot can start from a saved session the same way.

export const SESSION_KEY = 'aurora.session';

const roomPath = (room) => `/api/rooms/${encodeURIComponent(room)}`;

export class ApiError extends Error {
  constructor(status, code, message, retryAfterSec = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterSec = retryAfterSec;
  }
}

/** Decodes a JWT's payload (no verification: the servers verify; we only read exp). */
export function jwtPayload(token) {
  try {
    const part = token.split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

function readSession(storage) {
  try {
    const s = JSON.parse(storage.getItem(SESSION_KEY) || 'null');
    return s && typeof s.token === 'string' && typeof s.refreshToken === 'string' && s.user ? s : null;
  } catch {
    return null;
  }
}

function toSession(body) {
  const payload = jwtPayload(body.token);
  const expiresAt =
    payload && typeof payload.exp === 'number'
      ? payload.exp * 1000
      : Date.now() + (Number(body.expiresIn) || 900) * 1000;
  return { token: body.token, refreshToken: body.refreshToken, user: body.user, expiresAt };
}

async function parseError(res) {
  let code = `http_${res.status}`;
  let message = `Request failed (${res.status})`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = String(body.error.code || code);
      message = String(body.error.message || message);
    }
  } catch {
    /* not JSON */
  }
  const ra = Number(res.headers.get('Retry-After'));
  return new ApiError(res.status, code, message, Number.isFinite(ra) && ra > 0 ? ra : null);
}

/** A localStorage-shaped store in memory (Node, tests, a bot that signs in every start). */
export function memoryStorage() {
  const items = new Map();
  return {
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem: (k, v) => void items.set(k, String(v)),
    removeItem: (k) => void items.delete(k),
  };
}

/**
 * @param {object} [o]
 * @param {string} [o.base]  the users service's origin ('' in the page it serves; 'http://host:4000' elsewhere)
 * @param {object} [o.storage]  localStorage-shaped session store
 * @param {{ request(name: string, fn: () => Promise<any>): Promise<any> }} [o.locks]  Web Locks (browser)
 * @param {typeof fetch} [o.fetch]
 * @param {(reason?: string) => void} [o.onSignedOut]
 */
export function createRest({ base = '', storage = memoryStorage(), locks = null, fetch: fetchImpl = globalThis.fetch, onSignedOut = () => {} } = {}) {
  let session = readSession(storage);
  let refreshing = null;
  const listeners = new Set();

  const save = (s) => {
    session = s;
    if (s) storage.setItem(SESSION_KEY, JSON.stringify(s));
    else storage.removeItem(SESSION_KEY);
    for (const fn of listeners) fn(session);
  };

  const signedOut = () => {
    if (!session) return;
    save(null);
    onSignedOut();
  };

  async function raw(method, path, { body, token } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    let res;
    try {
      res = await fetchImpl(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection.');
    }
    if (!res.ok) throw await parseError(res);
    if (res.status === 204) return null;
    return res.json();
  }

  async function doRefresh() {
    const held = session;
    if (!held) throw new ApiError(401, 'signed_out', 'Signed out.');
    // If another tab already rotated the pair, use its fresh token.
    const stored = readSession(storage);
    if (stored && stored.user.id === held.user.id && stored.refreshToken !== held.refreshToken) {
      if (stored.expiresAt - Date.now() > 30_000) {
        save(stored);
        return stored.token;
      }
    }
    const current = stored && stored.user.id === held.user.id ? stored : held;
    try {
      const body = await raw('POST', '/api/auth/refresh', { body: { refreshToken: current.refreshToken } });
      save(toSession(body));
      return session.token;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) signedOut();
      throw err;
    }
  }

  /** New access token (single flight; across tabs when Web Locks exist). */
  function refresh() {
    if (!refreshing) {
      const run = locks ? () => locks.request('aurora-refresh', doRefresh) : doRefresh;
      refreshing = run().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  async function authed(method, path, body) {
    if (!session) throw new ApiError(401, 'signed_out', 'Signed out.');
    if (session.expiresAt - Date.now() < 5_000) await refresh();
    try {
      return await raw(method, path, { body, token: session.token });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401 || !session) throw err;
      await refresh();
      return raw(method, path, { body, token: session.token });
    }
  }

  const api = {
    get session() {
      return session;
    },
    get user() {
      return session ? session.user : null;
    },
    get token() {
      return session ? session.token : null;
    },
    get tokenExpiresAt() {
      return session ? session.expiresAt : 0;
    },
    onSession(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    /**
     * The stored session was changed by someone else (another tab: the browser's `storage`
     * event): adopt a rotated pair of the same user instead of spending ours; end ours when it
     * was cleared or replaced by another user's (its next refresh would overwrite theirs).
     */
    sessionChangedElsewhere() {
      const next = readSession(storage);
      if (!next) {
        if (session) {
          session = null;
          onSignedOut();
        }
      } else if (session && next.user.id === session.user.id) {
        session = next;
        for (const fn of listeners) fn(session);
      } else if (session) {
        session = null;
        onSignedOut('switched');
      }
    },
    refresh,
    async register(username, password) {
      return raw('POST', '/api/auth/register', { body: { username, password } });
    },
    async login(username, password) {
      const body = await raw('POST', '/api/auth/login', { body: { username, password } });
      save(toSession(body));
      return session.user;
    },
    /** Revokes the refresh token server side, then forgets the session locally either way. */
    async logout() {
      const s = session;
      save(null);
      if (s) {
        try {
          await raw('POST', '/api/auth/logout', { body: { refreshToken: s.refreshToken } });
        } catch {
          /* already signed out locally; the token expires on its own */
        }
      }
    },
    me: () => authed('GET', '/api/me'),
    searchUsers: (query) => authed('GET', `/api/users?query=${encodeURIComponent(query)}`),
    // Rooms with members (docs/REST.md "Rooms and members"). Room names go into paths encoded.
    myRooms: () => authed('GET', '/api/me/rooms'),
    room: (room) => authed('GET', roomPath(room)),
    createRoom: (body) => authed('POST', '/api/rooms', body),
    /** { topic } or { archived } */
    updateRoom: (room, patch) => authed('PATCH', roomPath(room), patch),
    members: (room) => authed('GET', `${roomPath(room)}/members`),
    /** Invites `userId`; your own id joins a public room. */
    addMember: (room, userId) => authed('POST', `${roomPath(room)}/members`, { userId }),
    /** Your own id leaves; another's kicks. */
    removeMember: (room, userId) => authed('DELETE', `${roomPath(room)}/members/${encodeURIComponent(userId)}`),
    setRole: (room, userId, role) => authed('PATCH', `${roomPath(room)}/members/${encodeURIComponent(userId)}`, { role }),
    ban: (room, userId) => authed('POST', `${roomPath(room)}/bans`, { userId }),
    mute: (room, userId, seconds) => authed('POST', `${roomPath(room)}/mutes`, { userId, seconds }),
    unmute: (room, userId) => authed('DELETE', `${roomPath(room)}/mutes/${encodeURIComponent(userId)}`),
    /**
     * Sends a message without a WebSocket (bots, integrations): the same send script as a ws
     * `send` — same cid idempotency (a retry answers the same id, `duplicate: true`), limits,
     * live fan-out and storage. → { id, ts, seq?, duplicate? }
     */
    postMessage: (room, { text, cid, replyTo, attachments }) =>
      authed('POST', `${roomPath(room)}/messages`, { text, cid, ...(replyTo && { replyTo }), ...(attachments && { attachments }) }),
    history(room, { before, limit = 50 } = {}) {
      const q = new URLSearchParams({ limit: String(limit) });
      if (before) q.set('before', before);
      return authed('GET', `${roomPath(room)}/messages?${q}`);
    },
    /** A thread: its parent and a page of replies after `after`, oldest first. */
    replies(room, id, { after, limit = 50 } = {}) {
      const q = new URLSearchParams({ limit: String(limit) });
      if (after) q.set('after', after);
      return authed('GET', `${roomPath(room)}/messages/${encodeURIComponent(id)}/replies?${q}`);
    },
    // Attention (issue 15, docs/REST.md): read receipts, notifications, mute, status.
    /** { receipts, reads:[{user,id,seq}] } */
    reads: (room) => authed('GET', `${roomPath(room)}/reads`),
    /** { notifications, unread } newest first; `before`: the last id of the previous page. */
    notifications({ before, limit = 30, unread = false } = {}) {
      const q = new URLSearchParams({ limit: String(limit) });
      if (before) q.set('before', before);
      if (unread) q.set('unread', '1');
      return authed('GET', `/api/me/notifications?${q}`);
    },
    /** `ids` (an array) or 'all' → { unread } */
    markNotificationsRead: (ids) => authed('POST', '/api/me/notifications/read', ids === 'all' ? { all: true } : { ids }),
    setRoomMuted: (room, muted) => authed('PATCH', `/api/me/rooms/${encodeURIComponent(room)}`, { muted }),
    /** 'online' | 'away' | 'dnd' */
    setStatus: (status) => authed('PUT', '/api/me/status', { status }),
    /** The asker's stop button on the assistant's answer in progress (docs/REST.md "Assistant"). */
    stopAnswer: (room, id) => authed('POST', `${roomPath(room)}/assistant/stop`, { id }),
    async config() {
      return raw('GET', '/config.json');
    },
  };
  /** What a Connection needs of this session: the token, its expiry, and a refresh. */
  api.connectionAuth = {
    get token() {
      return api.token;
    },
    get tokenExpiresAt() {
      return api.tokenExpiresAt;
    },
    refresh: () => api.refresh(),
  };
  return api;
}
