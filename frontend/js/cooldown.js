// Send cooldowns: after the server refuses a send with `rate_limited`, nothing more goes out in
// that scope until `retryAfterMs` has passed — a send then would only be refused again (and,
// refused out of order, land out of order). A scope is a room (the per-user-per-room limit) or
// '*' (the account-wide budget, the per-socket frame budget): a room is blocked while either
// runs. Subscribers hear when a cooldown starts, is extended, or ends. No DOM, no network.

export function createCooldowns({ now = () => Date.now() } = {}) {
  const until = new Map(); // scope -> epoch ms
  const timers = new Map(); // scope -> end timer
  const listeners = new Set();
  const notify = (scope) => {
    for (const fn of listeners) fn(scope);
  };

  function end(scope) {
    timers.delete(scope);
    until.delete(scope);
    notify(scope);
  }

  return {
    /** Blocks `scope` ('*' or a room) for `ms` from now (never shortens a running one). */
    start(scope, ms) {
      const at = now() + Math.max(0, ms);
      if ((until.get(scope) || 0) >= at) return;
      until.set(scope, at);
      clearTimeout(timers.get(scope));
      timers.set(scope, setTimeout(() => end(scope), at - now()));
      notify(scope);
    },
    /** When `room` may send again (epoch ms; 0 when it may now). */
    until(room) {
      const t = Math.max(until.get(room) || 0, until.get('*') || 0);
      return t > now() ? t : 0;
    },
    /** Milliseconds `room` must still wait (0 when it may send now). */
    remaining(room) {
      return Math.max(0, this.until(room) - now());
    },
    /** fn(scope) on every start and end; returns the unsubscribe. */
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    /** Sign-out: forget every cooldown (no notifications). */
    clear() {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      until.clear();
    },
  };
}

/** The client's one set of cooldowns: sends, changes and the countdowns on screen share it. */
export const cooldowns = createCooldowns();
