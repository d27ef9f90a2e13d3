// The profile endpoints (docs/REST.md "GET /api/me" … "DELETE /api/me") over authed.js, which
// api.js has no methods for: names, avatars, the password and deleting the account.
import { ApiError } from './api.js';
import { apiErrorOf, getJson, withToken } from './authed.js';

async function send(api, method, path, { json, blob } = {}) {
  return withToken(api, async (token) => {
    const headers = { Accept: 'application/json', Authorization: `Bearer ${token}` };
    let body;
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (blob) {
      // The server sniffs the bytes; the type is only a hint.
      headers['Content-Type'] = blob.type || 'application/octet-stream';
      body = blob;
    }
    let res;
    try {
      res = await fetch(path, { method, headers, body, credentials: 'omit', cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection.');
    }
    let parsed = null;
    if (res.status !== 204) {
      try {
        parsed = await res.json();
      } catch {
        /* not JSON */
      }
    }
    if (!res.ok) {
      const ra = Number(res.headers.get('Retry-After'));
      throw apiErrorOf(res.status, parsed, Number.isFinite(ra) && ra > 0 ? ra : null);
    }
    return parsed;
  });
}

export const fetchProfiles = (api, ids) => getJson(api, `/api/users/profiles?ids=${ids.map(encodeURIComponent).join(',')}`);
/** `name` '' or null clears it → { user } */
export const setDisplayName = (api, name) => send(api, 'PATCH', '/api/me', { json: { displayName: name || null } });
export const putAvatar = (api, blob) => send(api, 'PUT', '/api/me/avatar', { blob });
export const deleteAvatar = (api) => send(api, 'DELETE', '/api/me/avatar');
export const changePassword = (api, currentPassword, newPassword) => send(api, 'PUT', '/api/me/password', { json: { currentPassword, newPassword } });
/** The account goes for good (204); the password is asked again: an access token alone cannot. */
export const deleteAccount = (api, password) => send(api, 'DELETE', '/api/me', { json: { password } });
