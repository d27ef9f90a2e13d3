// Signed-in requests that api.js has no method for (attachment links, search, pages around a
// message), with api.js's rules: the access token only in the Authorization header, refreshed
// shortly before it expires and once more after a 401 (api.refresh is single-flight and shared
// across tabs), errors as ApiError with the server's code and message.
import { ApiError } from './api.js';

const EARLY_REFRESH_MS = 5_000;

/** ApiError from a failed answer: `{"error":{"code","message"}}` when the server sent one. */
export function apiErrorOf(status, body, retryAfterSec = null) {
  const e = body && typeof body === 'object' && body.error ? body.error : null;
  return new ApiError(status, e && e.code ? String(e.code) : `http_${status}`, e && e.message ? String(e.message) : `Request failed (${status})`, retryAfterSec);
}

/**
 * Runs `attempt(token)` with a fresh access token; a 401 ApiError refreshes the token and runs it
 * once more (an upload is sent again: a 401 comes before the server reads the body). Not a wrong
 * password (`invalid_credentials`, a password change or an account deletion): that is no token
 * problem, and a second try would count as a second failed sign-in against the throttle.
 */
export async function withToken(api, attempt) {
  if (!api.session) throw new ApiError(401, 'signed_out', 'Signed out.');
  if (api.tokenExpiresAt - Date.now() < EARLY_REFRESH_MS) await api.refresh();
  try {
    return await attempt(api.token);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401 || err.code === 'invalid_credentials' || !api.session) throw err;
    await api.refresh();
    return attempt(api.token);
  }
}

/** GET `path` (same origin) as the signed-in user → the parsed JSON body. */
export function getJson(api, path, { signal } = {}) {
  return withToken(api, async (token) => {
    let res;
    try {
      res = await fetch(path, { headers: { Accept: 'application/json', Authorization: `Bearer ${token}` }, credentials: 'omit', cache: 'no-store', signal });
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection.');
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    if (!res.ok) {
      const ra = Number(res.headers.get('Retry-After'));
      throw apiErrorOf(res.status, body, Number.isFinite(ra) && ra > 0 ? ra : null);
    }
    return body;
  });
}
