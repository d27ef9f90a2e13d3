// The sign-in / create-account screen. Errors are worded by strings.js from the server's error
// code (never the server's developer text), with a throttled attempt's wait. "Welcome back!" is
// only for someone who has signed in on this device before.
import { $ } from './dom.js';
import { STRINGS, errorText } from '../strings.js';

const T = STRINGS.auth;
const COPY = {
  login: { submit: T.signIn, busy: T.signingIn },
  register: { tagline: T.taglineRegister, submit: T.register, busy: T.registering },
};
// Set at the first successful sign-in on this device. Rooms saved by earlier versions of the
// client (aurora.rooms.<user id>) also mean "been here before".
const RETURNING_KEY = 'aurora.returning';

function isReturning() {
  try {
    if (localStorage.getItem(RETURNING_KEY)) return true;
    for (let i = 0; i < localStorage.length; i++) if (String(localStorage.key(i)).startsWith('aurora.rooms.')) return true;
  } catch {
    /* storage blocked: treat as a first visit */
  }
  return false;
}

function rememberReturning() {
  try {
    localStorage.setItem(RETURNING_KEY, '1');
  } catch {
    /* not kept: the greeting stays the first-visit one */
  }
}

export function mountAuth({ onSubmit }) {
  const form = $('auth-form');
  const user = $('auth-username');
  const pass = $('auth-password');
  const submit = $('auth-submit');
  const error = $('auth-error');
  const notice = $('auth-notice');
  const tabs = { login: $('tab-login'), register: $('tab-register') };
  let mode = 'login';
  let busy = false;

  function setMode(next, { focus = false } = {}) {
    mode = next;
    for (const [name, tab] of Object.entries(tabs)) {
      const on = name === mode;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      if (on && focus) tab.focus();
    }
    $('auth-tagline').textContent = mode === 'register' ? COPY.register.tagline : isReturning() ? T.taglineReturning : T.taglineFirst;
    submit.textContent = COPY[mode].submit;
    pass.autocomplete = mode === 'login' ? 'current-password' : 'new-password';
    $('auth-username-hint').hidden = mode === 'login';
    $('auth-password-hint').hidden = mode === 'login';
    error.textContent = '';
  }

  tabs.login.addEventListener('click', () => setMode('login'));
  tabs.register.addEventListener('click', () => setMode('register'));
  // Arrow keys move between the two tabs (ARIA tabs pattern).
  for (const tab of Object.values(tabs)) {
    tab.addEventListener('keydown', (ev) => {
      if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') {
        ev.preventDefault();
        setMode(mode === 'login' ? 'register' : 'login', { focus: true });
      }
    });
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    const username = user.value.trim();
    const password = pass.value;
    error.textContent = '';
    notice.textContent = '';
    if (!username || !password) {
      error.textContent = T.missingFields;
      (username ? pass : user).focus();
      return;
    }
    busy = true;
    submit.disabled = true;
    submit.textContent = COPY[mode].busy;
    try {
      await onSubmit(mode, username, password);
      rememberReturning();
      pass.value = '';
    } catch (err) {
      error.textContent = errorText(err);
      (err && /^(username_taken|invalid_username)$/.test(err.code) ? user : pass).focus();
    } finally {
      busy = false;
      submit.disabled = false;
      submit.textContent = COPY[mode].submit;
    }
  });

  return {
    show({ message = '' } = {}) {
      $('auth').hidden = false;
      notice.textContent = message;
      error.textContent = '';
      // Back on this screen after signing out (or a session's end): signing in is what's next.
      setMode(isReturning() ? 'login' : mode);
      (user.value ? pass : user).focus();
    },
    hide() {
      $('auth').hidden = true;
    },
  };
}
