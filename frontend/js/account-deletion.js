// Deleting my own account (DELETE /api/me, docs/REST.md) without DOM: the request, what a refusal
// says, and what this device then forgets. The server ends every session of the account at once
// (sockets closed with 4001, tokens refused), so the page may already be on its way to the
// sign-in screen when the 204 lands: the user id is taken before the request, and what is kept
// per user is forgotten by that id.
import { deleteAccount } from './profile-api.js';
import { STRINGS, errorText } from './strings.js';

const NAMES_KEY = 'aurora.names'; // app.js: user id -> username, for DM titles

/**
 * Everything this device keeps for `userId`: the per-user keys (`aurora.<what>.<user id>`: unsent
 * messages, the room last open, hidden DMs, do not disturb, …) and its entry among the names.
 * What belongs to the device (theme, recent emoji, "been here before") stays.
 */
export function forgetUserOnDevice(userId, storage = globalThis.localStorage) {
  if (!userId || !storage) return;
  const suffix = `.${userId}`;
  const keys = [];
  for (let i = 0; i < storage.length; i++) {
    const k = String(storage.key(i));
    if (k.startsWith('aurora.') && k.endsWith(suffix)) keys.push(k);
  }
  for (const k of keys) storage.removeItem(k);
  try {
    const names = JSON.parse(storage.getItem(NAMES_KEY) || '{}');
    if (names && Object.hasOwn(names, userId)) {
      delete names[userId];
      storage.setItem(NAMES_KEY, JSON.stringify(names));
    }
  } catch {
    /* not ours to repair */
  }
}

/** What to say about a refused deletion: a wrong password is the password's, not "username or". */
export function deletionErrorText(err) {
  if (err && err.code === 'invalid_credentials') return STRINGS.account.wrongPassword;
  if (err && err.code === 'invalid_field') return STRINGS.account.needPassword;
  return errorText(err);
}

/**
 * Deletes the signed-in user's account with `password`; on success forgets the device's state of
 * that user. Rejects with the ApiError of a refusal (nothing was deleted then).
 */
export async function deleteMyAccount({ api, userId, password, storage = globalThis.localStorage }) {
  await deleteAccount(api, password);
  forgetUserOnDevice(userId, storage);
}
