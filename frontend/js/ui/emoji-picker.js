// The reaction picker: a small popover with the emoji used most in chat and the ones this
// browser used last (localStorage, newest first). One open at a time; Escape, a click outside
// or a pick closes it and gives focus back to the button that opened it. Arrow keys move
// through the grid. Positioned next to its button with CSSOM properties (allowed by the CSP,
// unlike style attributes).
import { h } from './dom.js';

const RECENT_KEY = 'aurora.emoji.recent';
const RECENT_MAX = 8;
const COLUMNS = 8;

/** [emoji, name] — the name is what a screen reader says. */
export const COMMON_EMOJI = [
  ['👍', 'thumbs up'], ['❤️', 'red heart'], ['😂', 'tears of joy'], ['🎉', 'party popper'],
  ['😮', 'surprised'], ['😢', 'crying'], ['🙏', 'folded hands'], ['👀', 'eyes'],
  ['🔥', 'fire'], ['✅', 'check mark'], ['👎', 'thumbs down'], ['🚀', 'rocket'],
  ['💯', 'hundred points'], ['😄', 'grinning'], ['🤔', 'thinking'], ['👏', 'clapping'],
  ['🙌', 'raised hands'], ['😅', 'sweat smile'], ['😍', 'heart eyes'], ['🤝', 'handshake'],
  ['💡', 'light bulb'], ['⚡', 'lightning'], ['🐛', 'bug'], ['☕', 'coffee'],
];
const NAMES = new Map(COMMON_EMOJI);

export function recentEmoji(storage = globalThis.localStorage) {
  try {
    const list = JSON.parse(storage.getItem(RECENT_KEY) || '[]');
    return Array.isArray(list) ? list.filter((e) => typeof e === 'string' && e.length <= 32).slice(0, RECENT_MAX) : [];
  } catch {
    return [];
  }
}

/** Moves `emoji` to the front of the recently used list. */
export function noteRecentEmoji(emoji, storage = globalThis.localStorage) {
  const list = [emoji, ...recentEmoji(storage).filter((e) => e !== emoji)].slice(0, RECENT_MAX);
  try {
    storage.setItem(RECENT_KEY, JSON.stringify(list));
  } catch {
    /* storage full or disabled: recents are a nicety */
  }
  return list;
}

let open = null; // { el, anchor, onDoc }

export function closeEmojiPicker({ restoreFocus = true } = {}) {
  if (!open) return;
  const { el, anchor, onDoc } = open;
  open = null;
  document.removeEventListener('pointerdown', onDoc, true);
  el.remove();
  if (restoreFocus && anchor.isConnected) anchor.focus();
}

/** Opens the picker next to `anchor`; `onPick(emoji)` when one is chosen. */
export function openEmojiPicker(anchor, onPick) {
  const reopening = open && open.anchor === anchor;
  closeEmojiPicker({ restoreFocus: false });
  if (reopening) return; // the same button again: a toggle
  const pick = (emoji) => {
    noteRecentEmoji(emoji);
    closeEmojiPicker();
    onPick(emoji);
  };
  const button = (emoji) =>
    h('button', { className: 'emoji-btn', text: emoji, attrs: { type: 'button', 'aria-label': NAMES.get(emoji) || emoji, title: NAMES.get(emoji) || emoji }, on: { click: () => pick(emoji) } });
  const section = (title, list) =>
    h('div', { className: 'emoji-section' }, h('p', { className: 'emoji-heading', text: title }), h('div', { className: 'emoji-grid', attrs: { role: 'group', 'aria-label': title } }, ...list.map(button)));
  const recent = recentEmoji();
  const el = h(
    'div',
    { className: 'emoji-picker', attrs: { role: 'dialog', 'aria-label': 'Add a reaction' } },
    recent.length ? section('Recently used', recent) : null,
    section('Common', COMMON_EMOJI.map(([e]) => e)),
  );
  el.addEventListener('keydown', (ev) => {
    const buttons = [...el.querySelectorAll('.emoji-btn')];
    const i = buttons.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLUMNS, ArrowUp: -COLUMNS }[ev.key];
    if (ev.key === 'Escape') {
      ev.preventDefault();
      ev.stopPropagation();
      closeEmojiPicker();
    } else if (step && i >= 0) {
      ev.preventDefault();
      buttons[Math.max(0, Math.min(buttons.length - 1, i + step))].focus();
    } else if (ev.key === 'Tab') {
      // Keep focus inside while it is open (it is a small modal choice).
      ev.preventDefault();
      buttons[(i + (ev.shiftKey ? -1 : 1) + buttons.length) % buttons.length].focus();
    }
  });
  const onDoc = (ev) => {
    if (!el.contains(ev.target) && ev.target !== anchor) closeEmojiPicker({ restoreFocus: false });
  };
  document.addEventListener('pointerdown', onDoc, true);
  document.body.appendChild(el);
  open = { el, anchor, onDoc };
  place(el, anchor);
  el.querySelector('.emoji-btn').focus();
}

function place(el, anchor) {
  const a = anchor.getBoundingClientRect();
  const w = el.offsetWidth;
  const hgt = el.offsetHeight;
  const vw = document.documentElement.clientWidth;
  const vh = document.documentElement.clientHeight;
  const below = a.bottom + 6 + hgt <= vh;
  const top = below ? a.bottom + 6 : Math.max(8, a.top - 6 - hgt);
  const left = Math.max(8, Math.min(vw - w - 8, a.right - w));
  el.style.top = `${Math.round(top)}px`;
  el.style.left = `${Math.round(left)}px`;
}
