// Live "in N s" countdowns. A countdown element counts to a fixed moment (`until`) or to the end
// of a room's send cooldown (`room`: read from the shared cooldowns at each tick, so every row
// waiting in a room shows the same number, and an extended cooldown shows at once even in a row
// that is not rebuilt). One ticker updates every countdown on the page and stops when none is
// left. Text only through textContent.
import { h } from './dom.js';
import { cooldowns } from '../cooldown.js';

const TICK_MS = 250;
let ticker = 0;

/** "3 s", "2 min", "1 h 5 min": how long `ms` is, rounded up to what is still to wait. */
export function formatWait(ms) {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.ceil(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

function left(el) {
  const until = Number(el.dataset.until);
  if (until) return Math.max(0, until - Date.now());
  return cooldowns.remaining(el.dataset.room || '');
}

function paint(el) {
  const ms = left(el);
  const text = ms > 0 ? `in ${formatWait(ms)}` : el.dataset.done || 'now';
  if (el.textContent !== text) el.textContent = text;
}

function tick() {
  const els = document.querySelectorAll('.countdown');
  for (const el of els) paint(el);
  if (!els.length) {
    clearInterval(ticker);
    ticker = 0;
  }
}

/** Repaints every countdown now (e.g. when a cooldown starts or ends) and keeps ticking. */
export function refreshCountdowns() {
  if (!ticker) ticker = setInterval(tick, TICK_MS);
  queueMicrotask(tick); // after the render that may have just added countdowns
}

/**
 * A `<span>` reading "in 3 s", then "in 2 s"… and `done` (default "now") at the end.
 * @param o.until epoch ms to count to, or
 * @param o.room  a room whose send cooldown to count down
 */
export function countdownEl({ until = 0, room = '', done = 'now' }) {
  // aria-live off: the alert it sits in is read once, not again at every tick.
  const attrs = { 'data-until': until ? String(until) : null, 'data-room': room || null, 'data-done': done, 'aria-live': 'off' };
  const el = h('span', { className: 'countdown', attrs });
  paint(el);
  refreshCountdowns();
  return el;
}

cooldowns.subscribe(refreshCountdowns);
