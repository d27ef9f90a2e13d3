// The reaction chips under a message: one per emoji with its count, pressed (highlighted) when
// one of them is mine; clicking a chip toggles my reaction (data-action "toggle-reaction",
// handled by message-actions.js), and a last chip opens the emoji picker.
import { h } from './dom.js';

export function reactionsEl(reactions) {
  return h(
    'div',
    { className: 'reactions', attrs: { role: 'group', 'aria-label': 'Reactions' } },
    ...reactions.map((r) =>
      h(
        'button',
        {
          className: 'reaction' + (r.me ? ' mine' : ''),
          attrs: {
            type: 'button',
            'data-action': 'toggle-reaction',
            'data-emoji': r.emoji,
            'aria-pressed': String(r.me),
            'aria-label': `${r.emoji} ${r.count} ${r.count === 1 ? 'reaction' : 'reactions'}${r.me ? ', including yours: remove yours' : ': add yours'}`,
            title: r.me ? (r.count === 1 ? 'You reacted' : `You and ${r.count - 1} more`) : `${r.count} reacted`,
          },
        },
        h('span', { className: 'reaction-emoji', text: r.emoji, attrs: { 'aria-hidden': 'true' } }),
        h('span', { className: 'reaction-count', text: String(r.count), attrs: { 'aria-hidden': 'true' } }),
      ),
    ),
    h('button', { className: 'reaction reaction-add', text: '+', attrs: { type: 'button', 'data-action': 'react', 'aria-label': 'Add reaction', title: 'Add reaction' } }),
  );
}
