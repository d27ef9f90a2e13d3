// How a presence status looks (presence.js decides it): a dot whose colour AND shape tell it —
// online a filled green dot, away an amber one with a bite out of it, do not disturb red with a
// bar, offline a hollow grey ring (presence.css) — and always the words too ("away", "last seen
// 5 min ago"): in the dot's title and in text next to it or for screen readers. Also my own
// status in the chat header, beside the "Do not disturb" pill. Text only through textContent.
import { $, h, setText } from './dom.js';
import { STRINGS } from '../strings.js';

const P = STRINGS.presence;
const dateFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/** "just now", "5 min ago", "3 hours ago", "yesterday", "4 days ago", "on 12 Mar". */
export function seenAgo(ts, now = Date.now()) {
  const min = Math.floor(Math.max(0, now - ts) / 60_000);
  if (min < 1) return P.justNow;
  if (min < 60) return P.minutesAgo(min);
  const hours = Math.floor(min / 60);
  if (hours < 24) return P.hoursAgo(hours);
  const days = Math.floor(hours / 24);
  return days < 7 ? P.daysAgo(days) : P.on(dateFmt.format(new Date(ts)));
}

/** The words for a status: "online", "away", "do not disturb", "last seen 5 min ago", "offline". */
export function presenceWords(info, now = Date.now()) {
  if (info.status === 'offline') return info.lastSeen ? P.lastSeen(seenAgo(info.lastSeen, now)) : P.offline;
  return P[info.status] || P.offline;
}

const dotClass = (info, extra) => `presence-dot status-${info.status}${extra ? ` ${extra}` : ''}`;

/** A new dot (hidden from screen readers: the words go next to it). */
export function presenceDot(info, words = presenceWords(info), extra = '') {
  return h('span', { className: dotClass(info, extra), attrs: { 'aria-hidden': 'true', title: words, 'data-status': info.status } });
}

/** Brings an existing dot to `info`. */
export function setDot(el, info, words = presenceWords(info), extra = '') {
  const cls = dotClass(info, extra);
  if (el.className !== cls) el.className = cls;
  if (el.title !== words) el.title = words;
  if (el.dataset.status !== info.status) el.dataset.status = info.status;
}

/** My own status in the chat header: online / away (auto); with do not disturb the pill beside it speaks. */
export function mountMyPresence({ presence }) {
  const box = $('my-presence');
  const dot = $('my-presence-dot');
  const text = $('my-presence-text');
  return {
    render() {
      const status = presence.mine();
      const words = status === 'away' ? P.meAway : P[status];
      setDot(dot, { status }, words, 'inline');
      setText(text, words);
      // With do not disturb the pill beside it shows the words; screen readers still hear them.
      const cls = status === 'dnd' ? 'sr-only' : 'my-presence-text';
      if (text.className !== cls) text.className = cls;
      const label = P.mine(words);
      if (box.title !== label) box.title = label;
      box.hidden = false;
    },
    hide() {
      box.hidden = true;
    },
  };
}
