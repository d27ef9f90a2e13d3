// The sign-in / create-account screen. The server's error messages are shown as they come
// (textContent), e.g. "username already taken" or a throttled login's retry time.
import { $ } from './dom.js';

const COPY = {
  login: { tagline: 'Welcome back! Sign in to pick up where you left off.', submit: 'Sign in', busy: 'Signing in…' },
  register: { tagline: 'Create an account — it takes ten seconds.', submit: 'Create account', busy: 'Creating account…' },
};

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
    $('auth-tagline').textContent = COPY[mode].tagline;
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
      error.textContent = 'Enter a username and a password.';
      (username ? pass : user).focus();
      return;
    }
    busy = true;
    submit.disabled = true;
    submit.textContent = COPY[mode].busy;
    try {
      await onSubmit(mode, username, password);
      pass.value = '';
    } catch (err) {
      error.textContent = describe(err);
      (err && err.code === 'username_taken' ? user : pass).focus();
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
      setMode(mode);
      (user.value ? pass : user).focus();
    },
    hide() {
      $('auth').hidden = true;
    },
  };
}

function describe(err) {
  if (!err) return 'Something went wrong.';
  let msg = err.message || 'Something went wrong.';
  if (err.retryAfterSec) msg += ` Try again in ${err.retryAfterSec} s.`;
  return msg;
}
