// The whole client in one object: sign in over REST, one WebSocket connection (connection.js)
// with resume, the outbox (outbox.js) for sends and changes, and frames handed out once each.
//
//   const client = createClient({ base: 'http://localhost:4000', WebSocket });  // Node 20: ws
//   await client.login('bot', 'secret-password');
//   client.on('message', (m) => console.log(m.user.name, m.text));
//   await client.join('general');
//   await client.send('general', 'hello');          // resolves with the ack { id, ts }
//
// It remembers the newest id it delivered per room and resumes from it after every reconnect,
// so a handler sees every message and event once, in the server's order per room, across
// replica restarts (when the room log no longer reaches back, the gap is paged from REST). The
// recent messages a FIRST join brings are history: they come in `joined`, not as `message`.
import { Connection } from './connection.js';
import { compareIds } from './ids.js';
import { Outbox } from './outbox.js';
import { createRest } from './rest.js';

/** How many ids per room are remembered to drop a frame delivered twice (resume overlap). */
const SEEN_PER_ROOM = 512;

export function createClient({
  base = '',
  urls = null,
  WebSocket = globalThis.WebSocket,
  wsOptions,
  rest = null,
  storage,
  connection: connectionOptions = {},
  ackTimeoutMs,
} = {}) {
  // Signed out for good (refresh refused: logout elsewhere, disabled account): stop, say so.
  const api = rest || createRest({ base, storage, onSignedOut: (reason) => signedOut(reason) });
  const handlers = new Map(); // event -> Set<fn>
  const newest = new Map(); // room -> newest id delivered
  const seen = new Map(); // room -> Set of recent ids (insertion-ordered)
  const joinWaiters = new Map(); // room -> [{resolve, reject}]
  let conn = null;
  let connectedOnce = null;

  function signedOut(reason) {
    emit('signedout', { reason: reason || 'session ended' });
    client.close();
  }

  const emit = (event, payload) => {
    for (const fn of handlers.get(event) || []) {
      try {
        fn(payload);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  };

  /** First delivery of `id` in `room`: true; a repeat (resume overlap): false. */
  const firstTime = (room, id) => {
    let set = seen.get(room);
    if (!set) seen.set(room, (set = new Set()));
    if (set.has(id)) return false;
    set.add(id);
    if (set.size > SEEN_PER_ROOM) set.delete(set.values().next().value);
    const prev = newest.get(room);
    if (!prev || compareIds(id, prev) > 0) newest.set(room, id);
    return true;
  };

  const outbox = new Outbox(
    {
      canSend: (room) => !!conn && conn.connected && joinedRooms.has(room),
      send: (frame) => !!conn && conn.send(frame),
      rejoin: (room) => {
        joinedRooms.delete(room);
        if (conn && conn.rooms.has(room)) conn.join(room);
      },
    },
    ackTimeoutMs === undefined ? {} : { ackTimeoutMs },
  );
  const joinedRooms = new Set(); // joined on the current connection

  function onFrame(frame) {
    if (outbox.handle(frame)) return;
    switch (frame.type) {
      case 'joined': {
        joinedRooms.add(frame.room);
        // The first join's backlog is history (in `joined` only: a bot must not answer
        // yesterday's commands); a resume's are messages missed while away: delivered as
        // `message` / `event` like live ones.
        const resumed = newest.has(frame.room);
        const messages = frame.messages.filter((m) => firstTime(frame.room, m.id));
        const events = (frame.events || []).filter((e) => firstTime(frame.room, e.id));
        emit('joined', { ...frame, messages, events });
        if (resumed) {
          for (const m of messages) emit('message', { type: 'message', ...m });
          for (const e of events) emit('event', e);
        }
        for (const w of joinWaiters.get(frame.room) || []) w.resolve(frame);
        joinWaiters.delete(frame.room);
        outbox.flush(frame.room);
        return;
      }
      case 'message':
      case 'event':
        if (firstTime(frame.room, frame.id)) emit(frame.type, frame);
        return;
      case 'left':
        joinedRooms.delete(frame.room);
        if (frame.reason) conn.forget(frame.room);
        emit('left', frame);
        return;
      case 'error':
        if (frame.joinRefused) {
          for (const w of joinWaiters.get(frame.room) || []) w.reject(Object.assign(new Error(frame.message), { code: frame.code }));
          joinWaiters.delete(frame.room);
        }
        emit('error', frame);
        return;
      default:
        emit(frame.type, frame);
    }
  }

  function onState(state) {
    if (state.state !== 'connected') {
      if (joinedRooms.size > 0 || state.state === 'reconnecting') outbox.requeueInflight();
      joinedRooms.clear();
    }
    emit('state', state);
  }

  async function wsUrls() {
    if (urls) return urls;
    const cfg = await api.config();
    // Relative URLs in /config.json are relative to the users service that served it.
    return cfg.wsUrls.map((u) => new URL(u, base || globalThis.location.href).toString());
  }

  const client = {
    rest: api,
    get connection() {
      return conn;
    },
    get user() {
      return api.user;
    },
    /** on('message' | 'event' | 'joined' | 'left' | 'error' | 'state' | 'presence' | 'typing' | …, fn) → unsubscribe */
    on(event, fn) {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event).add(fn);
      return () => handlers.get(event).delete(fn);
    },
    register: (username, password) => api.register(username, password),
    login: (username, password) => api.login(username, password),
    /** Opens the connection (signed in first); resolves at the first `hello`. */
    async connect() {
      if (conn) return connectedOnce;
      if (!api.session) throw new Error('not signed in: call login() first (or pass a rest client with a session)');
      const list = await wsUrls();
      connectedOnce = new Promise((resolve) => {
        const off = client.on('state', (s) => {
          if (s.state === 'connected') {
            off();
            resolve(s);
          }
        });
      });
      conn = new Connection({
        urls: list,
        auth: api.connectionAuth,
        history: (room, opts) => api.history(room, opts),
        sinceFor: (room) => newest.get(room) || null,
        onFrame,
        onState,
        WebSocket,
        wsOptions,
        options: connectionOptions,
      });
      conn.start();
      return connectedOnce;
    },
    /** Joins `room` (and again after every reconnect, resuming); resolves with its `joined`. */
    async join(room) {
      if (!conn) await client.connect();
      const answered = new Promise((resolve, reject) => {
        if (!joinWaiters.has(room)) joinWaiters.set(room, []);
        joinWaiters.get(room).push({ resolve, reject });
      });
      conn.join(room);
      return answered;
    },
    leave(room) {
      joinedRooms.delete(room);
      if (conn) conn.leave(room);
    },
    /** → the ack ({cid, id, ts, duplicate?}); re-sent with the same cid until answered. */
    send(room, text, { replyTo, attachments, cid } = {}) {
      return outbox.submit({ type: 'send', room, text, ...(replyTo && { replyTo }), ...(attachments && { attachments }), ...(cid && { cid }) });
    },
    edit: (room, id, text) => outbox.submit({ type: 'edit', room, id, text }),
    delete: (room, id) => outbox.submit({ type: 'delete', room, id }),
    react: (room, id, emoji, on = true) => outbox.submit({ type: 'react', room, id, emoji, on }),
    /** Best effort (not acked): typing, read positions, status. */
    typing: (room, active = true) => !!conn && conn.send({ type: 'typing', room, active }),
    read: (room, id) => !!conn && conn.send({ type: 'read', room, id }),
    status: (status) => !!conn && conn.send({ type: 'status', status }),
    /** Sends and changes not answered yet (e.g. to persist across restarts). */
    pending: () => outbox.pending(),
    /** The newest id delivered in `room` (resume point). */
    newestId: (room) => newest.get(room) || null,
    /** Closes for good; pending sends are rejected. */
    close() {
      outbox.stop();
      if (conn) conn.stop();
    },
  };
  return client;
}
