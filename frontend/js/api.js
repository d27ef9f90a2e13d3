// The browser's REST client: the SDK's (sdk/src/rest.js) with the session in localStorage (a
// reload stays signed in), refreshes serialised across tabs by a Web Lock, and another tab's
// rotation or sign-out adopted through the `storage` event.
import { SESSION_KEY, createRest } from '../sdk/rest.js';

export { ApiError, jwtPayload } from '../sdk/rest.js';

export function createApi({ base = '', storage = window.localStorage, onSignedOut = () => {} } = {}) {
  const api = createRest({ base, storage, locks: navigator.locks || null, onSignedOut });
  window.addEventListener('storage', (ev) => {
    if (ev.key === SESSION_KEY) api.sessionChangedElsewhere();
  });
  return api;
}
