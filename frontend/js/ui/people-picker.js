// Choosing several people with the user search (GET /api/users, as the DM search in the sidebar
// does): type a name, pick from the results, picked people become chips that can be removed.
// Used for a new group conversation and for invitations. Keyboard: ArrowDown into the results,
// Enter picks, Escape closes the results. People show as member lists show them: avatar, display
// name and @username. Text only through textContent.
import { h, clear } from './dom.js';
import { personEls, shownName } from './avatar.js';
import { STRINGS } from '../strings.js';

const SEARCH_DEBOUNCE_MS = 200;

/**
 * @param o.excluded () => Set of user ids that cannot be picked (yourself, people already in)
 * @param o.max      () => how many may be picked
 * @param o.onChange () => void, after a pick or a removal
 */
export function createPeoplePicker({ api, input, results, chosenList, excluded, max, onChange = () => {} }) {
  const chosen = new Map(); // id -> { id, username }
  let timer = 0;
  let seq = 0;

  function renderChosen() {
    clear(chosenList);
    for (const u of chosen.values()) {
      const shown = shownName(u.id, u.username);
      chosenList.appendChild(
        h(
          'li',
          { className: 'person-chip', attrs: { title: `@${u.username}` } },
          h('span', { text: shown }),
          h('button', {
            className: 'icon-btn chip-remove',
            text: '✕',
            attrs: { type: 'button', 'aria-label': STRINGS.people.remove(shown) },
            on: {
              click: () => {
                chosen.delete(u.id);
                renderChosen();
                onChange();
                input.focus();
              },
            },
          }),
        ),
      );
    }
  }

  function pick(u) {
    if (chosen.size >= max()) return;
    chosen.set(u.id, u);
    input.value = '';
    results.hidden = true;
    renderChosen();
    onChange();
    input.focus();
  }

  async function search(q) {
    const mine = ++seq;
    let users;
    try {
      const res = await api.searchUsers(q);
      users = res.users || [];
    } catch {
      users = null;
    }
    if (mine !== seq) return;
    clear(results);
    const skip = excluded();
    const shown = (users || []).filter((u) => !skip.has(u.id) && !chosen.has(u.id));
    if (!users || shown.length === 0) results.appendChild(h('li', { className: 'dm-none', text: users ? STRINGS.people.noneFound : STRINGS.people.searchFailed }));
    for (const u of shown) {
      results.appendChild(
        h(
          'li',
          {},
          h(
            'button',
            { className: 'dm-result', attrs: { type: 'button', 'data-user': u.id }, on: { click: () => pick(u) } },
            ...personEls(u.id, u.username),
          ),
        ),
      );
    }
    results.hidden = false;
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) {
      results.hidden = true;
      return;
    }
    timer = setTimeout(() => search(q), SEARCH_DEBOUNCE_MS);
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown' && !results.hidden) {
      const first = results.querySelector('button');
      if (first) {
        ev.preventDefault();
        first.focus();
      }
    } else if (ev.key === 'Enter') {
      // Enter in the search box picks the first result instead of submitting the form.
      const first = !results.hidden && results.querySelector('button');
      if (first) {
        ev.preventDefault();
        first.click();
      }
    } else if (ev.key === 'Escape' && !results.hidden) {
      ev.preventDefault(); // close the results, not the dialog
      results.hidden = true;
    }
  });
  results.addEventListener('keydown', (ev) => {
    const buttons = [...results.querySelectorAll('button')];
    const i = buttons.indexOf(document.activeElement);
    if (ev.key === 'ArrowDown' && i < buttons.length - 1) {
      ev.preventDefault();
      buttons[i + 1].focus();
    } else if (ev.key === 'ArrowUp') {
      ev.preventDefault();
      (i > 0 ? buttons[i - 1] : input).focus();
    }
  });

  return {
    chosen: () => [...chosen.values()],
    reset() {
      chosen.clear();
      clearTimeout(timer);
      seq++;
      input.value = '';
      results.hidden = true;
      clear(results);
      renderChosen();
    },
  };
}
