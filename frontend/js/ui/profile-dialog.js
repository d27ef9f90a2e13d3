// The profile screen, opened from the user's own name and avatar in the sidebar: the display
// name (PATCH /api/me), the avatar (PUT the raw image, previewed first; remove), a password
// change that signs out every other session, and deleting the account (ui/delete-account.js).
// Built once in JS (no markup in index.html); the
// server's own words are shown for every refusal (413, 415, 429, a wrong password, …).
import { h, $ } from './dom.js';
import { avatarEl } from './avatar.js';
import { setDisplayName, putAvatar, deleteAvatar, changePassword } from '../profile-api.js';
import { deleteAccountSection } from './delete-account.js';

const S = {
  title: 'Your profile',
  name: 'Display name',
  nameHint: 'Shown instead of your username. Leave empty to show your username.',
  saveName: 'Save name',
  nameSaved: 'Name saved.',
  picture: 'Picture',
  choose: 'Choose a picture',
  upload: 'Save picture',
  remove: 'Remove picture',
  pictureSaved: 'Picture saved.',
  pictureRemoved: 'Picture removed.',
  password: 'Change password',
  current: 'Current password',
  next: 'New password',
  confirm: 'Repeat the new password',
  mismatch: 'The new passwords differ.',
  tooShort: 'The new password needs 8 to 128 characters.',
  changed: 'Password changed. Your other sessions were signed out.',
  close: 'Close',
};

/**
 * @param o.api       api.js client (token handling)
 * @param o.store     for the signed-in user
 * @param o.profiles  profiles.js cache: what the server answers goes in (the screen follows)
 * @param o.onDeleted () => void: the account was deleted (to the sign-in screen)
 */
export function mountProfileDialog({ api, store, profiles, onDeleted = () => {} }) {
  let dlg = null;
  let els = null;
  let deletion = null;
  let chosen = null; // the picked File, until saved

  const field = (id, label, input, hint) =>
    h('div', { className: 'dialog-field' }, h('label', { text: label, attrs: { for: id } }), input, hint || null);
  const line = (id, alert) => h('p', { className: 'profile-msg', attrs: { id, role: alert ? 'alert' : 'status', 'aria-live': 'polite' } });

  function build() {
    const input = (id, type, extra = {}) => {
      const el = document.createElement('input');
      el.id = id;
      el.type = type;
      for (const [k, v] of Object.entries(extra)) el.setAttribute(k, v);
      return el;
    };
    els = {
      name: input('profile-name', 'text', { maxlength: '64', autocomplete: 'nickname', 'aria-describedby': 'profile-name-hint' }),
      nameMsg: line('profile-name-msg'),
      file: input('profile-file', 'file', { accept: 'image/png,image/jpeg,image/webp,image/gif', class: 'profile-file' }),
      preview: h('div', { className: 'profile-preview' }),
      upload: h('button', { className: 'btn btn-primary', text: S.upload, attrs: { type: 'button', id: 'profile-upload', disabled: true } }),
      remove: h('button', { className: 'btn btn-ghost', text: S.remove, attrs: { type: 'button', id: 'profile-remove' } }),
      picMsg: line('profile-picture-msg'),
      cur: input('profile-current', 'password', { autocomplete: 'current-password', maxlength: '128' }),
      next: input('profile-new', 'password', { autocomplete: 'new-password', maxlength: '128' }),
      again: input('profile-confirm', 'password', { autocomplete: 'new-password', maxlength: '128' }),
      pwMsg: line('profile-password-msg'),
      handle: h('p', { className: 'profile-handle' }),
    };
    const nameForm = h(
      'form',
      { className: 'dialog-form', attrs: { id: 'profile-name-form' }, on: { submit: saveName } },
      field('profile-name', S.name, els.name, h('p', { className: 'dialog-hint', text: S.nameHint, attrs: { id: 'profile-name-hint' } })),
      h('div', { className: 'dialog-actions' }, h('button', { className: 'btn btn-primary', text: S.saveName, attrs: { type: 'submit', id: 'profile-name-save' } })),
      els.nameMsg,
    );
    const picture = h(
      'section',
      { className: 'profile-section', attrs: { 'aria-labelledby': 'profile-picture-title' } },
      h('h3', { className: 'profile-subtitle', text: S.picture, attrs: { id: 'profile-picture-title' } }),
      h('div', { className: 'profile-picture-row' }, els.preview, field('profile-file', S.choose, els.file)),
      h('div', { className: 'dialog-actions' }, els.remove, els.upload),
      els.picMsg,
    );
    const pwForm = h(
      'form',
      { className: 'dialog-form profile-section', attrs: { id: 'profile-password-form', 'aria-labelledby': 'profile-password-title' }, on: { submit: savePassword } },
      h('h3', { className: 'profile-subtitle', text: S.password, attrs: { id: 'profile-password-title' } }),
      field('profile-current', S.current, els.cur),
      field('profile-new', S.next, els.next),
      field('profile-confirm', S.confirm, els.again),
      h('div', { className: 'dialog-actions' }, h('button', { className: 'btn btn-primary', text: S.password, attrs: { type: 'submit', id: 'profile-password-save' } })),
      els.pwMsg,
    );
    deletion = deleteAccountSection({ api, store, onDeleted });
    dlg = h(
      'dialog',
      { className: 'form-dialog profile-dialog', attrs: { id: 'profile-dialog', 'aria-labelledby': 'profile-title' } },
      h(
        'div',
        { className: 'profile-head' },
        h('h2', { className: 'dialog-title', text: S.title, attrs: { id: 'profile-title' } }),
        h('button', { className: 'icon-btn', text: '✕', attrs: { type: 'button', id: 'profile-close', 'aria-label': S.close, title: S.close }, on: { click: () => dlg.close() } }),
      ),
      els.handle,
      nameForm,
      picture,
      pwForm,
      deletion.el,
    );
    els.file.addEventListener('change', pick);
    els.upload.addEventListener('click', upload);
    els.remove.addEventListener('click', remove);
    document.body.appendChild(dlg);
  }

  const me = () => store.state.me;
  const say = (el, text, bad = false) => {
    el.textContent = text;
    el.classList.toggle('bad', bad);
  };
  const errText = (err) => (err && err.message) || 'Something went wrong.';
  /** The server's answer: the cache (and so every place that shows me) follows. */
  const took = (res) => res && res.user && profiles.learn([res.user]);

  function showPreview() {
    els.preview.replaceChildren();
    if (chosen) {
      // A data: URL (the page's CSP allows data: images, not blob:).
      const img = h('img', { className: 'profile-preview-img' });
      img.alt = '';
      const reader = new FileReader();
      reader.onload = () => (img.src = String(reader.result));
      reader.readAsDataURL(chosen);
      els.preview.appendChild(img);
    } else if (me()) {
      els.preview.appendChild(avatarEl(me().id, me().username, 'large'));
    }
    const has = !!(me() && profiles.avatarOf(me().id));
    els.remove.disabled = !has;
    els.upload.disabled = !chosen;
  }

  function pick() {
    chosen = els.file.files && els.file.files[0] ? els.file.files[0] : null;
    say(els.picMsg, '');
    showPreview();
  }

  async function saveName(ev) {
    ev.preventDefault();
    say(els.nameMsg, '');
    try {
      took(await setDisplayName(api, els.name.value.trim()));
      say(els.nameMsg, S.nameSaved);
    } catch (err) {
      say(els.nameMsg, errText(err), true);
    }
  }

  async function upload() {
    if (!chosen) return;
    els.upload.disabled = true;
    say(els.picMsg, '');
    try {
      took(await putAvatar(api, chosen));
      chosen = null;
      els.file.value = '';
      say(els.picMsg, S.pictureSaved);
    } catch (err) {
      say(els.picMsg, errText(err), true);
    }
    showPreview();
  }

  async function remove() {
    say(els.picMsg, '');
    try {
      took(await deleteAvatar(api));
      say(els.picMsg, S.pictureRemoved);
    } catch (err) {
      say(els.picMsg, errText(err), true);
    }
    showPreview();
  }

  async function savePassword(ev) {
    ev.preventDefault();
    say(els.pwMsg, '');
    const next = els.next.value;
    if (next.length < 8 || next.length > 128) return say(els.pwMsg, S.tooShort, true);
    if (next !== els.again.value) return say(els.pwMsg, S.mismatch, true);
    try {
      await changePassword(api, els.cur.value, next);
      for (const el of [els.cur, els.next, els.again]) el.value = '';
      say(els.pwMsg, S.changed);
    } catch (err) {
      say(els.pwMsg, errText(err), true);
    }
  }

  function open() {
    const u = me();
    if (!u) return;
    if (!dlg) build();
    const p = profiles.get(u.id);
    els.name.value = (p && p.displayName) || '';
    els.handle.textContent = `@${u.username}`;
    chosen = null;
    els.file.value = '';
    for (const m of [els.nameMsg, els.picMsg, els.pwMsg]) say(m, '');
    deletion.reset();
    showPreview();
    dlg.showModal();
    els.name.focus();
  }

  $('me-profile').addEventListener('click', open);
  return {
    open,
    close: () => dlg && dlg.open && dlg.close(),
  };
}
