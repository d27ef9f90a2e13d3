// The profile screen's "Delete account" section: a danger button that reveals the password
// field and a confirm button under a sentence that says what goes (the client cannot know
// whether the server keeps the messages, so it does not promise either). A refusal stays inline
// (a wrong password, too many attempts with the wait, no network); nothing happens until the
// server says 204. Then `onDeleted` takes the page to the sign-in screen.
import { h } from './dom.js';
import { deleteMyAccount, deletionErrorText } from '../account-deletion.js';
import { STRINGS } from '../strings.js';

const S = STRINGS.account;

/**
 * @param o.api       api.js client
 * @param o.store     for the signed-in user
 * @param o.onDeleted () => void, after the account is gone (the device already forgot it)
 * @returns { el, reset } the section, and reset (collapsed, empty) for when the screen opens
 */
export function deleteAccountSection({ api, store, onDeleted }) {
  let busy = false;
  const password = h('input', { className: 'delete-password', attrs: { id: 'delete-password' } });
  password.type = 'password';
  password.autocomplete = 'current-password';
  password.maxLength = 128;
  password.setAttribute('aria-describedby', 'delete-consequence');
  const msg = h('p', { className: 'profile-msg', attrs: { id: 'delete-msg', role: 'alert' } });
  const confirm = h('button', { className: 'btn btn-danger', text: S.confirm, attrs: { type: 'submit', id: 'delete-confirm' } });
  const cancel = h('button', { className: 'btn btn-ghost', text: S.cancel, attrs: { type: 'button', id: 'delete-cancel' } });
  const form = h(
    'form',
    { className: 'dialog-form delete-form', attrs: { id: 'delete-form', hidden: true } },
    h('p', { className: 'delete-consequence', text: S.consequence, attrs: { id: 'delete-consequence' } }),
    h('div', { className: 'dialog-field' }, h('label', { text: S.password, attrs: { for: 'delete-password' } }), password),
    h('div', { className: 'dialog-actions' }, cancel, confirm),
    msg,
  );
  const start = h('button', {
    className: 'btn btn-danger',
    text: S.start,
    attrs: { type: 'button', id: 'delete-start', 'aria-expanded': 'false', 'aria-controls': 'delete-form' },
  });
  const el = h(
    'section',
    { className: 'profile-section delete-section', attrs: { 'aria-labelledby': 'delete-title' } },
    h('h3', { className: 'profile-subtitle', text: S.title, attrs: { id: 'delete-title' } }),
    h('p', { className: 'dialog-hint', text: S.intro }),
    h('div', { className: 'dialog-actions' }, start),
    form,
  );

  const say = (text) => {
    msg.textContent = text;
    msg.classList.toggle('bad', !!text);
  };
  function reveal(open) {
    form.hidden = !open;
    start.hidden = open;
    start.setAttribute('aria-expanded', String(open));
    password.value = '';
    say('');
    (open ? password : start).focus();
  }

  start.addEventListener('click', () => reveal(true));
  cancel.addEventListener('click', () => reveal(false));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    const me = store.state.me;
    if (!me) return;
    if (!password.value) {
      say(S.needPassword);
      return password.focus();
    }
    busy = true;
    confirm.disabled = true;
    confirm.textContent = S.deleting;
    say('');
    try {
      await deleteMyAccount({ api, userId: me.id, password: password.value });
    } catch (err) {
      say(deletionErrorText(err));
      password.focus();
      password.select();
      return;
    } finally {
      busy = false;
      confirm.disabled = false;
      confirm.textContent = S.confirm;
    }
    password.value = '';
    onDeleted();
  });

  return {
    el,
    reset() {
      form.hidden = true;
      start.hidden = false;
      start.setAttribute('aria-expanded', 'false');
      password.value = '';
      say('');
    },
  };
}
