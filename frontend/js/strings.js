// Every user-facing string of the client's frame (sign-in, header, people, drawer, toasts,
// connection state) in one place, so a translation can replace this one module later. Values
// that embed a number or a name are functions: word order and plurals differ between languages.
// Server errors are never shown as the server words them (that text is for developers and
// logs): `errorText` turns a stable error code into what the product says.

const seconds = (n) => (n === 1 ? '1 second' : `${n} seconds`);
const waitFor = (sec) => (sec >= 90 ? `${Math.ceil(sec / 60)} minutes` : seconds(sec));

export const STRINGS = Object.freeze({
  auth: {
    taglineFirst: 'Welcome to AuroraChat! Create an account in seconds, or sign in.',
    taglineReturning: 'Welcome back! Sign in to pick up where you left off.',
    taglineRegister: 'Create an account — it takes ten seconds.',
    signIn: 'Sign in',
    signingIn: 'Signing in…',
    register: 'Create account',
    registering: 'Creating account…',
    missingFields: 'Enter a username and a password.',
    signInAgain: 'Please sign in again.',
    sessionEnded: 'Your session has ended. Please sign in again.',
    switchedUser: 'You signed in as another user in another tab. Please sign in again.',
    signedOut: 'You have signed out.',
  },
  // By error code: the users service's REST codes and the chat socket's error-frame codes.
  errors: {
    invalid_username: 'Usernames are 3 to 32 characters: letters, digits, “_”, “.” or “-”.',
    invalid_password: 'Choose a password of at least 8 characters.',
    username_taken: 'That username is taken. Try another one.',
    invalid_credentials: 'Wrong username or password.',
    too_many_attempts: 'Too many attempts. Please wait a moment and try again.',
    too_many_requests: 'You are going a bit fast. Please wait a moment and try again.',
    invalid_refresh_token: 'Your session has ended. Please sign in again.',
    unauthorized: 'Your session has ended. Please sign in again.',
    token_expired: 'Your session has ended. Please sign in again.',
    network: 'Can’t reach AuroraChat. Check your connection and try again.',
    unavailable: 'AuroraChat is having trouble right now. Please try again in a moment.',
    internal: 'Something went wrong on our side. Please try again in a moment.',
    overloaded: 'AuroraChat is very busy right now. Please try again in a moment.',
    forbidden: 'You don’t have access to that conversation.',
    invalid_room: 'That room name isn’t valid.',
    not_joined: 'You’re not in that room any more. Reopen it from the room list.',
    not_found: 'That message no longer exists.',
    too_long: 'That message is too long: the limit is 4,000 characters.',
    rate_limited: 'You are sending too fast. Please wait a moment.',
    fallback: 'Something went wrong. Please try again.',
  },
  // The same errors when the server said how long to wait (Retry-After).
  errorsWithWait: {
    too_many_attempts: (sec) => `Too many attempts. Try again in ${waitFor(sec)}.`,
    too_many_requests: (sec) => `You are going a bit fast. Try again in ${waitFor(sec)}.`,
    rate_limited: (sec) => `You are sending too fast. Try again in ${waitFor(sec)}.`,
  },
  slowDown: (sec) => `Slow down: you can send again in ${sec} s.`,
  roomError: (room, text) => `${room}: ${text}`,
  chat: {
    title: (label) => `${label} · AuroraChat`,
    dmWith: (name) => `Direct messages with ${name}`,
    online: (n) => `${n} online`,
    leave: 'Leave',
    close: 'Close',
  },
  drawer: {
    open: 'Open room list',
    openWithUnread: (n) => `Open room list (${n === 1 ? '1 room has' : `${n} rooms have`} unread messages)`,
  },
  people: {
    online: (n) => `— ${n} online`,
    you: 'you',
  },
  typing: {
    one: (a) => `${a} is typing…`,
    two: (a, b) => `${a} and ${b} are typing…`,
    several: 'Several people are typing…',
  },
  connection: {
    connected: 'Connected',
    connectedTo: (where) => `Connected to ${where}`,
    connecting: 'Connecting…',
    reconnecting: 'Reconnecting…',
    reconnectingIn: (sec) => `Reconnecting in ${sec} s…`,
    offline: 'Offline',
    waitingForNetwork: 'Offline — waiting for network',
    disconnected: 'Disconnected',
    meOnline: 'Online',
    meOffline: 'Offline',
    meReconnecting: 'Reconnecting…',
  },
  toast: {
    dismiss: 'Dismiss',
  },
});

/**
 * What to tell the user about a failed request or a refused frame: the wording for its code,
 * with the wait when the server said how long (`retryAfterSec` from Retry-After, or a frame's
 * `retryAfterMs`). Unknown codes get the generic wording, never the server's text.
 */
export function errorText(err) {
  const code = err && err.code;
  const known = typeof code === 'string' && Object.hasOwn(STRINGS.errors, code);
  const sec = err ? err.retryAfterSec || Math.ceil((err.retryAfterMs || 0) / 1000) : 0;
  if (known && sec > 0 && Object.hasOwn(STRINGS.errorsWithWait, code)) return STRINGS.errorsWithWait[code](sec);
  if (known) return STRINGS.errors[code];
  return err && err.status >= 500 ? STRINGS.errors.internal : STRINGS.errors.fallback;
}
