// Short notices (errors that belong to no message or field), dismissed after a few seconds.
import { $, h } from './dom.js';
import { STRINGS } from '../strings.js';

export function toast(message, { kind = 'info', ms = 5000 } = {}) {
  const box = $('toasts');
  const el = h('div', { className: `toast ${kind}`, attrs: { role: kind === 'error' ? 'alert' : 'status' } }, h('span', { text: message }));
  const close = h('button', { className: 'icon-btn', text: '✕', attrs: { type: 'button', 'aria-label': STRINGS.toast.dismiss }, on: { click: () => el.remove() } });
  el.appendChild(close);
  box.appendChild(el);
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => el.remove(), ms);
}
