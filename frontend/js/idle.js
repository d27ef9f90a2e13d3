// Is the person at this device? `away` once `awayAfterMs` passed without input (a hidden tab gets
// none, so hidden that long is away too), `online` again at the next input. Pure: the clock and
// the timer are injected (unit tests drive them); watchInput() feeds it from the page.
// Input is only what a person does: pointer, keys, wheel, touch, coming back to the tab. Not
// `scroll` — the message list scrolls itself when messages arrive, which says nothing about
// whether anyone is looking.

export function createIdleTracker({ awayAfterMs, onChange = () => {}, now = () => Date.now(), setTimer = setTimeout, clearTimer = clearTimeout }) {
  let state = 'online';
  let lastInput = now();
  let timer = null;
  let stopped = false;

  function set(s) {
    if (s === state) return;
    state = s;
    onChange(s);
  }

  // One timer for the whole idle period: input only moves `lastInput` (it comes at mouse-move
  // rates); when the timer fires it waits again for whatever is left of the period.
  function arm(ms) {
    if (timer !== null) clearTimer(timer);
    timer = setTimer(check, Math.max(0, ms));
  }
  function check() {
    timer = null;
    if (stopped) return;
    const idle = now() - lastInput;
    if (idle >= awayAfterMs) set('away');
    else arm(awayAfterMs - idle);
  }
  arm(awayAfterMs);

  return {
    get state() {
      return state;
    },
    /** The person did something here. */
    input() {
      if (stopped) return;
      lastInput = now();
      if (state === 'away') {
        set('online');
        arm(awayAfterMs);
      }
    },
    stop() {
      stopped = true;
      if (timer !== null) clearTimer(timer);
      timer = null;
    },
  };
}

const INPUT_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart'];

/** Feeds `tracker` from the page's input events; returns the function that stops it. */
export function watchInput(tracker, win = window, doc = document) {
  const onInput = () => tracker.input();
  const onVisible = () => {
    if (doc.visibilityState === 'visible') tracker.input();
  };
  const opts = { capture: true, passive: true };
  for (const type of INPUT_EVENTS) win.addEventListener(type, onInput, opts);
  win.addEventListener('focus', onInput);
  doc.addEventListener('visibilitychange', onVisible);
  return () => {
    for (const type of INPUT_EVENTS) win.removeEventListener(type, onInput, opts);
    win.removeEventListener('focus', onInput);
    doc.removeEventListener('visibilitychange', onVisible);
  };
}
