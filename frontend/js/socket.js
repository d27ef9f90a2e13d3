// The WebSocket client (protocol aurora.v1, see DESIGN.md). It owns one connection at a time:
// - authenticates with the subprotocols ['aurora.v1', 'bearer.<JWT>'] — never a token in a URL;
// - reconnects with exponential backoff and full jitter (capped) so a dead replica does not
//   cause a thundering herd, rotating through config.json's wsUrls on every failure;
// - after each `hello` rejoins every room with `since` = the last id it has seen, and when the
//   server answers `recovered:false` fills the gap from REST history before handing `joined` on;
// - sends an app-level ping every ~20 s (browsers cannot see ws pings) and treats a missing
//   pong as a dead connection (laptop sleep, network change);
// - refreshes the access token in-band (`auth`) before it expires, and refreshes before
//   reconnecting after close 4001 or a refused handshake.
// It emits frames and connection state; it keeps no chat state of its own besides room names.
import { compareIds } from './ids.js';

export const PROTOCOL = 'aurora.v1';

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

/** Full jitter: uniform in [0, min(cap, base * 2^attempt)]. */
export function backoffDelay(attempt, { baseDelayMs, maxDelayMs }, random = Math.random) {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt, 20));
  return Math.floor(random() * ceiling);
}

/**
 * Delay before re-sending a message the server refused with `overloaded` for the
 * `retries`-th time (0-based): exponential with full jitter (1 s base, 30 s cap), never
 * sooner than the server's retryAfterMs.
 */
export function overloadedRetryDelay(retries, retryAfterMs, random = Math.random) {
  const jittered = backoffDelay(retries, { baseDelayMs: 1_000, maxDelayMs: 30_000 }, random);
  const ceiling = Math.min(30_000, 1_000 * 2 ** Math.min(retries, 20));
  // At least half the exponential step, so retries really spread out over time.
  const delay = Math.max(jittered, Math.floor(ceiling / 2));
  const floor = Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? Math.min(retryAfterMs, 5 * 60_000) : 0;
  return Math.max(delay, floor);
}

/** Close codes after which the server wants us to back off (slow consumer, policy violation). */
const PENALTY_CODES = new Set([4008, 1008]);

/**
 * Delay before the next connection attempt. Only the FIRST retry after losing a working
 * connection goes out fast (0..base); any further retry — including after a server that
 * closes right after `hello` — backs off exponentially (`attempt` is only reset once a
 * connection has proved stable), and a 4008/1008 close waits at least penaltyDelayMs.
 */
export function reconnectDelay({ wasReady = false, attempt = 0, code = 0 }, opt, random = Math.random) {
  const penalty = PENALTY_CODES.has(code);
  let delay = wasReady && attempt === 0 && !penalty ? Math.floor(random() * opt.baseDelayMs) : backoffDelay(attempt, opt, random);
  if (penalty) delay = Math.max(delay, opt.penaltyDelayMs + Math.floor(random() * opt.baseDelayMs));
  return delay;
}

/** Resolves a configured URL (absolute ws(s):// or a path like /ws) against the page. */
export function resolveWsUrl(u, location = window.location) {
  const url = new URL(u, location.href);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  return url.toString();
}

export class ChatSocket {
  /**
   * @param {object} o
   * @param {string[]} o.urls            ws URLs (rotated through on failures)
   * @param {{token: string|null, tokenExpiresAt: number, refresh: () => Promise<string>}} o.auth
   * @param {(room: string, opts: {before?: string, limit?: number}) => Promise<{messages: any[], hasMore: boolean}>} o.history
   * @param {(room: string) => string|null} o.sinceFor   newest message id the client holds
   * @param {(frame: any) => void} o.onFrame
   * @param {(state: object) => void} o.onState
   */
  constructor({ urls, auth, history, sinceFor, onFrame, onState, options = {} }) {
    if (!urls || urls.length === 0) throw new Error('no WebSocket URL configured');
    this.urls = urls.map((u) => resolveWsUrl(u));
    this.auth = auth;
    this.history = history;
    this.sinceFor = sinceFor;
    this.onFrame = onFrame;
    this.onState = onState;
    this.opt = { ...DEFAULTS, ...options };
    this.rooms = new Set();
    this.urlIndex = 0;
    this.attempt = 0;
    this.ws = null;
    this.ready = false; // hello received on the current socket
    this.stopped = true;
    this.timers = {};
    this.lastRefreshForHandshake = 0;
    this.handshakeFailures = 0;
    this.replica = null;
    this.state = 'idle';
    this.pendingJoins = new Map(); // room -> the `since` sent with its latest join
    this.onOnline = () => this.wake('online');
    this.onOffline = () => this.probe();
    this.onVisible = () => {
      if (document.visibilityState === 'visible') this.wake('visible');
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    document.addEventListener('visibilitychange', this.onVisible);
    this.connect();
  }

  /** Closes for good (sign-out). */
  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    document.removeEventListener('visibilitychange', this.onVisible);
    this.clearTimers();
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
    return this.ready && this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a frame now; false when not connected (the caller keeps it pending). */
  send(frame) {
    if (!this.connected) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  join(room) {
    this.rooms.add(room);
    if (this.connected) this.sendJoin(room);
  }

  leave(room) {
    this.rooms.delete(room);
    this.send({ type: 'leave', room });
  }

  /** Forces a reconnect now (e.g. the user pressed "Reconnect"). */
  reconnectNow() {
    if (this.stopped) return;
    this.attempt = 0;
    if (this.connected) return;
    this.clearTimer('retry');
    if (!this.ws) this.connect();
  }

  // --- connection -------------------------------------------------------------------------

  async connect() {
    if (this.stopped || this.ws) return;
    this.clearTimer('retry');
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
      ws = new WebSocket(url, [PROTOCOL, `bearer.${this.auth.token}`]);
    } catch {
      return this.scheduleReconnect(false);
    }
    this.ws = ws;
    this.ready = false;
    let opened = false;
    this.setTimer('hello', this.opt.helloTimeoutMs, () => this.abandon(ws, { opened, code: 0, reason: 'no hello' }));
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
    this.clearTimers();
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
    this.setState('reconnecting', { retryInMs: delay, retryAt: Date.now() + delay });
    this.setTimer('retry', delay, async () => {
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
    this.clearTimer('retry');
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
        this.clearTimer('pong');
        return;
      case 'joined':
        return void this.joined(frame, ws);
      default:
        this.onFrame(frame);
    }
  }

  hello(frame) {
    this.clearTimer('hello');
    this.ready = true;
    this.replica = frame.replica || null;
    this.handshakeFailures = 0;
    // Reset the backoff only once the connection has proved stable, so a replica that accepts
    // and immediately drops us does not get hammered.
    this.setTimer('stable', this.opt.stableAfterMs, () => {
      this.attempt = 0;
    });
    this.setState('connected', { url: this.ws.url, replica: this.replica });
    this.onFrame(frame);
    for (const room of this.rooms) this.sendJoin(room);
    this.schedulePing();
    this.scheduleAuthRefresh();
  }

  sendJoin(room) {
    const since = this.sinceFor(room);
    const frame = { type: 'join', room };
    if (since) frame.since = since;
    this.pendingJoins.set(room, since || null);
    this.send(frame);
  }

  async joined(frame, ws = this.ws) {
    const since = this.pendingJoins.get(frame.room) || null;
    this.pendingJoins.delete(frame.room);
    const messages = Array.isArray(frame.messages) ? frame.messages : [];
    if (!since || frame.recovered !== false) {
      this.onFrame({ ...frame, messages, gap: false });
      return;
    }
    // The room log no longer reaches back to `since`: page REST history backwards from the
    // oldest message we got until we meet `since` (bounded; a remaining gap is reported).
    const filled = [];
    let gap = true;
    try {
      let before = messages.length ? messages[0].id : undefined;
      for (let page = 0; page < this.opt.gapFillPages; page++) {
        const res = await this.history(frame.room, { before, limit: this.opt.gapFillPageSize });
        const got = res && Array.isArray(res.messages) ? res.messages : [];
        let reached = false;
        for (const m of got) {
          if (compareIds(m.id, since) > 0) filled.push(m);
          else reached = true;
        }
        if (reached || !res.hasMore || got.length === 0) {
          gap = false;
          break;
        }
        before = got[0].id;
      }
    } catch {
      /* keep what we have; the gap flag tells the store older history must be re-paged */
    }
    // The connection this `joined` belongs to may have been replaced while history loaded: a
    // stale frame must not land after (and over) the newer connection's own `joined`.
    if (ws !== this.ws || this.stopped) return;
    // `stale`: the edits and deletes made during the gap to what we held are gone from the
    // room log too; the store drops those messages so that history pages them in again.
    this.onFrame({ ...frame, messages: [...filled, ...messages], gap, stale: true });
  }

  // --- liveness and auth timers -------------------------------------------------------------

  schedulePing() {
    const tick = () => {
      if (!this.connected) return;
      this.probe();
      this.setTimer('ping', this.opt.pingIntervalMs, tick);
    };
    this.setTimer('ping', this.opt.pingIntervalMs, tick);
  }

  /** Sends a ping; no pong in time means the connection is dead. */
  probe() {
    const ws = this.ws;
    if (!ws || !this.ready || this.timers.pong) return;
    if (!this.send({ type: 'ping', t: Date.now() })) return;
    this.setTimer('pong', this.opt.pongTimeoutMs, () => this.abandon(ws, { opened: true, code: 0, reason: 'no pong' }));
  }

  scheduleAuthRefresh() {
    const expiresAt = this.auth.tokenExpiresAt;
    if (!expiresAt) return;
    const lifetime = Math.max(0, expiresAt - Date.now());
    // Refresh with a margin of 10% of the lifetime (at least 5 s, at most 60 s) to spare.
    const margin = Math.min(60_000, Math.max(5_000, lifetime * 0.1));
    const delay = Math.max(1_000, Math.min(lifetime - margin, 2 ** 31 - 1));
    this.setTimer('auth', delay, async () => {
      const ws = this.ws;
      try {
        const token = await this.auth.refresh();
        if (ws === this.ws && this.connected) {
          this.send({ type: 'auth', token });
          this.scheduleAuthRefresh();
        }
      } catch {
        // Could not refresh now; retry shortly (the server closes with 4001 if it lapses).
        if (ws === this.ws && this.connected) this.setTimer('auth', 5_000, () => this.scheduleAuthRefresh());
      }
    });
  }

  // --- helpers ------------------------------------------------------------------------------

  setState(state, extra = {}) {
    this.state = state;
    this.onState({ state, attempt: this.attempt, replica: this.replica, ...extra });
  }

  setTimer(name, ms, fn) {
    this.clearTimer(name);
    this.timers[name] = setTimeout(() => {
      delete this.timers[name];
      fn();
    }, ms);
  }

  clearTimer(name) {
    if (this.timers[name]) {
      clearTimeout(this.timers[name]);
      delete this.timers[name];
    }
  }

  clearTimers() {
    for (const name of Object.keys(this.timers)) this.clearTimer(name);
  }
}

function detach(ws) {
  ws.onopen = null;
  ws.onmessage = null;
  ws.onerror = null;
  ws.onclose = null;
}
