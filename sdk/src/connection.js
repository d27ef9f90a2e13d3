// One WebSocket connection to AuroraChat at a time (protocol aurora.v1, docs/PROTOCOL.md), in
// a browser or in Node — DOM-free; the browser client (frontend/js/socket.js) adds its wake-up
// signals (online, visibility) through `wakeSignals`. It:
// - authenticates with the subprotocols ['aurora.v1', 'bearer.<JWT>'] — never a token in a URL;
// - reconnects with exponential backoff and full jitter (capped) so a dead replica does not
//   cause a thundering herd, rotating through `urls` on every failure;
// - after each `hello` rejoins every room with `since` = the last id the app has seen, and when
//   the server answers `recovered:false` fills the gap from REST history before handing
//   `joined` on — except rooms the app wants confirmed first (`deferRejoin`);
// - sends an app-level ping every ~20 s (browsers cannot see ws pings) and treats a missing
//   pong as a dead connection (laptop sleep, network change);
// - refreshes the access token in-band (`auth`) before it expires, and refreshes before
//   reconnecting after close 4001 or a refused handshake.
// It emits frames and connection state; it keeps no chat state of its own besides room names
// (the outbox, outbox.js, and the client, client.js, build on it).
import { fillGap } from './history-gap.js';
import { JoinAnswers } from './joins.js';
import { PROTOCOL } from './protocol.js';
import { Timers, reconnectDelay, backoffDelay, resolveWsUrl } from './timing.js';

const OPEN = 1; // WebSocket.OPEN, the same in browsers and in ws

const DEFAULTS = {
  baseDelayMs: 500,
  maxDelayMs: 15_000,
  helloTimeoutMs: 10_000,
  pingIntervalMs: 20_000,
  pongTimeoutMs: 8_000,
  stableAfterMs: 5_000,
  // After the server closed us for misbehaving (4008 slow consumer, 1008 policy) the next try
  // waits at least this long (plus jitter), so a client it keeps dropping does not hammer it.
  penaltyDelayMs: 5_000,
  gapFillPages: 5,
  gapFillPageSize: 200,
};

export class Connection {
  /**
   * @param {object} o
   * @param {string[]} o.urls            ws URLs (rotated through on failures)
   * @param {{token: string|null, tokenExpiresAt: number, refresh: () => Promise<string>}} o.auth
   * @param {(room: string, opts: {before?: string, limit?: number}) => Promise<{messages: any[], hasMore: boolean, events?: any[]}>} [o.history]
   *        REST history, to fill a resume gap; without it a `joined` with recovered:false is handed on with gap:true
   * @param {(room: string) => string|null} o.sinceFor   newest message id the app holds of `room`
   * @param {(frame: any) => void} o.onFrame
   * @param {(state: object) => void} [o.onState]
   * @param {(room: string) => boolean} [o.deferRejoin]  true: do not rejoin `room` at a `hello`
   * @param {typeof WebSocket} [o.WebSocket]   the implementation (Node 20: `import { WebSocket } from 'ws'`)
   * @param {object} [o.wsOptions]   third constructor argument for `ws` in Node (e.g. { headers: { origin } })
   * @param {(wake: () => void, probe: () => void) => () => void} [o.wakeSignals]  subscribes to
   *        "the network/page is back" (wake) and "the network may be gone" (probe); returns the unsubscribe
   */
  constructor({ urls, auth, history = null, sinceFor, onFrame, onState = () => {}, deferRejoin = () => false, WebSocket: WebSocketImpl = globalThis.WebSocket, wsOptions, wakeSignals = null, options = {} }) {
    if (!urls || urls.length === 0) throw new Error('no WebSocket URL configured');
    if (!WebSocketImpl) throw new Error('no WebSocket implementation: pass { WebSocket } (Node 20: the `ws` package)');
    this.urls = urls.map((u) => resolveWsUrl(u));
    this.auth = auth;
    this.history = history;
    this.sinceFor = sinceFor;
    this.onFrame = onFrame;
    this.onState = onState;
    this.WebSocket = WebSocketImpl;
    this.wsOptions = wsOptions;
    this.wakeSignals = wakeSignals;
    this.unsubscribeWake = null;
    this.opt = { ...DEFAULTS, ...options };
    this.rooms = new Set();
    // Rooms kept but not joined on this connection until the app says so: joining a public room
    // makes the user a member, which must not undo a leave made on another device meanwhile.
    this.deferred = new Set();
    this.deferRejoin = deferRejoin;
    this.urlIndex = 0;
    this.attempt = 0;
    this.ws = null;
    this.ready = false; // hello received on the current socket
    this.stopped = true;
    this.timers = new Timers(); // named: hello, pong, ping, retry, stable, auth, rejoin:<room>
    this.lastRefreshForHandshake = 0;
    this.handshakeFailures = 0;
    this.replica = null;
    this.state = 'idle';
    this.joins = new JoinAnswers(); // which answer is whose join (joins.js)
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.wakeSignals) this.unsubscribeWake = this.wakeSignals(() => this.wake(), () => this.probe());
    this.connect();
  }

  /** Closes for good (sign-out). */
  stop() {
    this.stopped = true;
    if (this.unsubscribeWake) this.unsubscribeWake();
    this.unsubscribeWake = null;
    this.timers.clearAll();
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) {
      detach(ws);
      try {
        ws.close(1000, 'bye');
      } catch {
        /* ignore */
      }
    }
    this.setState('stopped');
  }

  get connected() {
    return this.ready && this.ws !== null && this.ws.readyState === OPEN;
  }

  /** Sends a frame now; false when not connected (the caller keeps it pending). */
  send(frame) {
    if (!this.connected) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Joins `room` now (and on every reconnect); `defer`: keep it, join it at a later `join`. */
  join(room, { defer = false } = {}) {
    this.rooms.add(room);
    if (defer) {
      this.deferred.add(room);
      return;
    }
    this.deferred.delete(room);
    if (this.connected) this.sendJoin(room);
  }

  /** Joins every deferred room (the app could not confirm them: better joined than silent). */
  joinDeferred() {
    for (const room of [...this.deferred]) this.join(room);
  }

  leave(room) {
    this.rooms.delete(room);
    this.deferred.delete(room);
    this.joins.forget(room);
    this.send({ type: 'leave', room });
  }

  /** The server already took this socket out of `room` (`left` with a reason): stop rejoining it. */
  forget(room) {
    this.rooms.delete(room);
    this.deferred.delete(room);
    this.joins.forget(room);
  }

  /** Forces a reconnect now (e.g. the user pressed "Reconnect"). */
  reconnectNow() {
    if (this.stopped) return;
    this.attempt = 0;
    if (this.connected) return;
    this.timers.clear('retry');
    if (!this.ws) this.connect();
  }

  // --- connection -------------------------------------------------------------------------

  async connect() {
    if (this.stopped || this.ws) return;
    this.timers.clear('retry');
    const url = this.urls[this.urlIndex % this.urls.length];
    this.setState(this.attempt === 0 && this.state !== 'reconnecting' ? 'connecting' : 'reconnecting', { url });
    // A token about to expire would be refused at the handshake: refresh first.
    if (!this.auth.token || this.auth.tokenExpiresAt - Date.now() < 15_000) {
      try {
        await this.auth.refresh();
      } catch (err) {
        if (this.stopped) return;
        if (err && (err.status === 401 || err.status === 403)) return; // signed out: app stops us
        return this.scheduleReconnect(false);
      }
    }
    if (this.stopped || this.ws) return;
    let ws;
    try {
      ws = new this.WebSocket(url, [PROTOCOL, `bearer.${this.auth.token}`], this.wsOptions);
    } catch {
      return this.scheduleReconnect(false);
    }
    this.ws = ws;
    this.ready = false;
    let opened = false;
    this.timers.set('hello', this.opt.helloTimeoutMs, () => this.abandon(ws, { opened, code: 0, reason: 'no hello' }));
    ws.onopen = () => {
      opened = true;
      if (ws.protocol !== PROTOCOL) this.abandon(ws, { opened, code: 0, reason: 'wrong subprotocol' });
    };
    ws.onmessage = (ev) => this.receive(ws, ev.data);
    ws.onerror = () => {
      /* a close event always follows */
    };
    ws.onclose = (ev) => this.closed(ws, { opened, code: ev.code, reason: ev.reason });
  }

  /** Drops a socket without waiting for a close handshake a dead peer will never answer. */
  abandon(ws, info) {
    if (ws !== this.ws) return;
    detach(ws);
    try {
      ws.close(4000, info.reason || 'abandoned');
    } catch {
      /* ignore */
    }
    this.closed(ws, info);
  }

  closed(ws, { opened, code }) {
    if (ws !== this.ws) return;
    detach(ws);
    const wasReady = this.ready;
    this.ws = null;
    this.ready = false;
    this.replica = null;
    this.timers.clearAll();
    if (this.stopped) return;
    // Refused handshakes look like 1006 before open; browsers hide the HTTP 401. Refresh when
    // the token may be the reason (expired by our clock, repeated refusals, or close 4001).
    let refresh = code === 4001;
    if (!opened) {
      this.handshakeFailures += 1;
      if (this.auth.tokenExpiresAt - Date.now() < 30_000) refresh = true;
      if (this.handshakeFailures >= 2 && Date.now() - this.lastRefreshForHandshake > 30_000) refresh = true;
    } else {
      this.handshakeFailures = 0;
    }
    // Try another replica next: this one failed or went away (1012 = it is shutting down).
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.scheduleReconnect(refresh, wasReady, code);
  }

  scheduleReconnect(refresh, wasReady = false, code = 0) {
    if (this.stopped) return;
    // The first retry after losing a working connection goes out quickly (jittered); repeated
    // failures back off exponentially up to the cap (see reconnectDelay).
    const delay = reconnectDelay({ wasReady, attempt: this.attempt, code }, this.opt);
    this.attempt += 1;
    // closeCode: why the last socket ended (0: it never opened or was abandoned) — 1012 restart,
    // 4001 session ended, 4008 too slow…
    this.setState('reconnecting', { retryInMs: delay, retryAt: Date.now() + delay, closeCode: code });
    this.timers.set('retry', delay, async () => {
      if (refresh) {
        this.lastRefreshForHandshake = Date.now();
        try {
          await this.auth.refresh();
        } catch (err) {
          if (err && (err.status === 401 || err.status === 403)) return;
        }
      }
      this.connect();
    });
  }

  /** Network came back or the page woke up: retry now, or check a live-looking socket. */
  wake() {
    if (this.stopped) return;
    if (this.ws) return this.probe();
    this.attempt = 0;
    this.timers.clear('retry');
    this.connect();
  }

  // --- frames -----------------------------------------------------------------------------

  receive(ws, data) {
    if (ws !== this.ws) return;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== 'string') return;
    switch (frame.type) {
      case 'hello':
        return this.hello(frame);
      case 'pong':
        this.timers.clear('pong');
        return;
      case 'joined':
        return void this.joined(frame, ws);
      case 'error':
        return this.onFrame(this.joinRefusal(frame) || frame);
      default:
        this.onFrame(frame);
    }
  }

  hello(frame) {
    this.timers.clear('hello');
    this.ready = true;
    this.replica = frame.replica || null;
    this.handshakeFailures = 0;
    // Reset the backoff only once the connection has proved stable, so a replica that accepts
    // and immediately drops us does not get hammered.
    this.timers.set('stable', this.opt.stableAfterMs, () => {
      this.attempt = 0;
    });
    this.setState('connected', { url: this.ws.url, replica: this.replica });
    this.onFrame(frame);
    this.joins.reset(); // joins of the previous connection are answered by nobody now
    for (const room of this.rooms) {
      if (this.deferred.has(room) || this.deferRejoin(room)) this.deferred.add(room);
      else this.sendJoin(room);
    }
    this.schedulePing();
    this.scheduleAuthRefresh();
  }

  sendJoin(room) {
    const since = this.sinceFor(room);
    const frame = { type: 'join', room };
    if (since) frame.since = since;
    this.joins.sent(room, since);
    this.send(frame);
  }

  /**
   * An error answering a join (joins.js): `forbidden` is returned with `room` and
   * `joinRefused` set — the app drops the room; a refusal for now is tried again (retryJoin) and
   * goes on as it came, like every other error (null).
   */
  joinRefusal(frame) {
    const refused = this.joins.refusal(frame);
    if (!refused) return null;
    const { room } = refused;
    if (refused.forbidden) {
      this.rooms.delete(room);
      this.deferred.delete(room);
      this.timers.clear(`rejoin:${room}`);
      return { ...frame, room, joinRefused: true };
    }
    this.retryJoin(room, frame);
    return null;
  }

  /** Sends `room`'s join again after a refusal for now, on this connection, if still wanted. */
  retryJoin(room, frame) {
    const delay = this.joins.retryDelay(room, frame, (tries) => 500 + backoffDelay(tries, this.opt));
    if (delay === null) return;
    const ws = this.ws;
    this.timers.set(`rejoin:${room}`, delay, () => {
      if (ws === this.ws && this.connected && this.rooms.has(room) && !this.deferred.has(room)) this.sendJoin(room);
    });
  }

  async joined(frame, ws = this.ws) {
    const { since, unanswered } = this.joins.joined(frame.room);
    // Joins sent before this one and still waiting were answered before it (in order) by an
    // error that named no room (the frame budget's rate_limited): try them again shortly.
    for (const room of unanswered) this.retryJoin(room, { code: 'rate_limited', retryAfterMs: 1000 });
    const messages = Array.isArray(frame.messages) ? frame.messages : [];
    if (!since || frame.recovered !== false) {
      this.onFrame({ ...frame, messages, gap: false });
      return;
    }
    if (!this.history) {
      this.onFrame({ ...frame, messages, gap: true });
      return;
    }
    const { filled, events, gap } = await fillGap(this.history, frame.room, messages, since, this.opt);
    // The connection this `joined` belongs to may have been replaced while history loaded: a
    // stale frame must not land after (and over) the newer connection's own `joined`.
    if (ws !== this.ws || this.stopped) return;
    // `stale`: the edits and deletes made during the gap to what we held are gone from the
    // room log too; the store drops those messages so that history pages them in again.
    // The membership events of the gap join the backlog's: applied like live ones, in id order.
    const backlog = Array.isArray(frame.events) ? frame.events : [];
    this.onFrame({ ...frame, messages: [...filled, ...messages], events: [...events, ...backlog], gap, stale: true });
  }

  // --- liveness and auth timers -------------------------------------------------------------

  schedulePing() {
    const tick = () => {
      if (!this.connected) return;
      this.probe();
      this.timers.set('ping', this.opt.pingIntervalMs, tick);
    };
    this.timers.set('ping', this.opt.pingIntervalMs, tick);
  }

  /** Sends a ping; no pong in time means the connection is dead. */
  probe() {
    const ws = this.ws;
    if (!ws || !this.ready || this.timers.has('pong')) return;
    if (!this.send({ type: 'ping', t: Date.now() })) return;
    this.timers.set('pong', this.opt.pongTimeoutMs, () => this.abandon(ws, { opened: true, code: 0, reason: 'no pong' }));
  }

  scheduleAuthRefresh() {
    const expiresAt = this.auth.tokenExpiresAt;
    if (!expiresAt) return;
    const lifetime = Math.max(0, expiresAt - Date.now());
    // Refresh with a margin of 10% of the lifetime (at least 5 s, at most 60 s) to spare.
    const margin = Math.min(60_000, Math.max(5_000, lifetime * 0.1));
    const delay = Math.max(1_000, Math.min(lifetime - margin, 2 ** 31 - 1));
    this.timers.set('auth', delay, async () => {
      const ws = this.ws;
      try {
        const token = await this.auth.refresh();
        if (ws === this.ws && this.connected) {
          this.send({ type: 'auth', token });
          this.scheduleAuthRefresh();
        }
      } catch {
        // Could not refresh now; retry shortly (the server closes with 4001 if it lapses).
        if (ws === this.ws && this.connected) this.timers.set('auth', 5_000, () => this.scheduleAuthRefresh());
      }
    });
  }

  // --- helpers ------------------------------------------------------------------------------

  setState(state, extra = {}) {
    this.state = state;
    this.onState({ state, attempt: this.attempt, replica: this.replica, ...extra });
  }
}

function detach(ws) {
  ws.onopen = null;
  ws.onmessage = null;
  ws.onerror = null;
  ws.onclose = null;
}
