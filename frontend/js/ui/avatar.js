// A user's avatar and shown name, kept current in place: elements carry the user id
// (data-avatar-of / data-name-of) and a profile change repaints just those, wherever they are
// (timeline, thread, members, the sidebar's own box), so nothing rebuilds a list for it.
// The picture is an <img src="/avatars/<id>"> (no token needed); without one, the initials in
// one of 8 colours (format.js), as before. A deleted account: "?" on a neutral grey, its name
// "Deleted user" (profiles.js), never the old picture or initials.
import { h } from './dom.js';
import { initials, avatarClass } from './format.js';

let cache = null;

/** Repaints every avatar and name of the ids `profiles` reports as changed. */
export function bindProfiles(profiles) {
  cache = profiles;
  profiles.onChange((ids) => {
    for (const id of ids) {
      const sel = CSS.escape(id);
      for (const el of document.querySelectorAll(`[data-avatar-of="${sel}"]`)) paintAvatar(el);
      for (const el of document.querySelectorAll(`[data-name-of="${sel}"]`)) paintName(el);
    }
  });
}

/** `<span class="avatar …">` for user `id`; `name` is the username for the initials fallback. */
export function avatarEl(id, name, size = '') {
  if (cache) cache.want([id]);
  const el = h('span', { className: `avatar ${size} ${avatarClass(id)}`.replace(/\s+/g, ' '), attrs: { 'aria-hidden': 'true', 'data-avatar-of': id, 'data-fallback': name } });
  paintAvatar(el);
  return el;
}

/** Tags an existing avatar element (the sidebar's own) and paints it. */
export function bindAvatar(el, id, name) {
  if (el.dataset.avatarOf !== id || el.dataset.fallback !== name) {
    el.dataset.avatarOf = id;
    el.dataset.fallback = name;
  }
  paintAvatar(el);
}

export function paintAvatar(el) {
  const id = el.dataset.avatarOf;
  const avatar = cache ? cache.avatarOf(id) : null;
  const gone = isDeletedUser(id);
  el.classList.toggle('avatar-deleted', gone);
  const src = avatar ? `/avatars/${encodeURIComponent(avatar)}` : '';
  const img = el.querySelector(':scope > img.avatar-img');
  if (src) {
    el.classList.add('has-img');
    if (img && img.getAttribute('src') === src) return;
    const next = document.createElement('img');
    next.className = 'avatar-img';
    next.alt = '';
    next.src = src;
    // A presence dot (or other marks) inside the avatar stays.
    for (const n of [...el.childNodes]) if (n.nodeType === Node.TEXT_NODE || n === img) n.remove();
    el.prepend(next);
    return;
  }
  el.classList.remove('has-img');
  if (img) img.remove();
  const text = avatarText(id, el.dataset.fallback);
  const first = el.firstChild;
  if (first && first.nodeType === Node.TEXT_NODE) {
    if (first.data !== text) first.data = text;
  } else el.prepend(document.createTextNode(text));
}

/** `<span>` showing user `id`'s display name (else `username`). */
export function nameEl(id, username, className) {
  if (cache) cache.want([id]);
  const el = h('span', { className, attrs: { 'data-name-of': id, 'data-fallback': username } });
  paintName(el);
  return el;
}

export function paintName(el) {
  const text = cache ? cache.nameOf(el.dataset.nameOf, el.dataset.fallback) : el.dataset.fallback;
  if (el.textContent !== text) el.textContent = text;
}

/** The name to show for a user (display name, else username): for strings, not elements. */
export const shownName = (id, username) => (cache ? cache.nameOf(id, username) : username);

/** The account was deleted (its profile says so). */
export const isDeletedUser = (id) => !!cache && cache.isDeleted(id);

/** What an avatar without a picture shows: the initials of the shown name, "?" for a deleted account. */
export const avatarText = (id, username) => (isDeletedUser(id) ? '?' : initials(shownName(id, username)));

/**
 * A person as a list of people shows them: avatar, display name, and the @username beside it
 * when a display name is set (as the member list does). For lists built per answer (user
 * search, @name completion), so painted once.
 */
export function personEls(id, username, size = 'tiny') {
  const shown = shownName(id, username);
  return [
    avatarEl(id, username, size),
    h('span', { className: 'person-name', text: shown }),
    shown !== username ? h('span', { className: 'member-handle', text: `@${username}` }) : null,
  ];
}
