// What the account routes take (auth-routes.ts, profile-routes.ts): credentials, refresh tokens,
// a password change, the account's own deletion, the display name and the profiles query.
import { z } from 'zod';
import { USER_ID_RE } from '../../shared/rooms.js';
import { queryString, rule } from '../validation.js';

export const USERNAME_RE = /^[A-Za-z0-9_.-]{3,32}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
/** base64url of 32 bytes is 43 characters; anything far longer is not one of ours. */
const REFRESH_TOKEN_MAX = 256;
/** Display names: at most this many characters (code points) after trimming. */
export const DISPLAY_NAME_MAX = 64;
/** GET /api/users/profiles: at most this many ids per request. */
export const PROFILES_MAX_IDS = 100;

const USERNAME_RULE = 'username must be a string of 3–32 characters: letters, digits, "_", "." or "-"';
const usernameRule = rule('invalid_username', (v) => (v === undefined ? 'username is required' : USERNAME_RULE));

export const username = z.string(usernameRule).regex(USERNAME_RE, usernameRule).meta({ description: '3–32 of [A-Za-z0-9_.-], unique case-insensitively' });

/** A new password (register, the new one of a change): `name` is the field's name. */
const newPassword = (name: string) => {
  const r = rule('invalid_password', (v) => (v === undefined ? `${name} is required` : `${name} must be a string of ${PASSWORD_MIN}–${PASSWORD_MAX} characters`));
  return z.string(r).min(PASSWORD_MIN, r).max(PASSWORD_MAX, r).meta({ description: `${PASSWORD_MIN}–${PASSWORD_MAX} characters` });
};

/** A password to check: any string up to the maximum (a wrong one is a wrong password, 401, not a bad request). */
const currentPassword = (name: string) => {
  const r = rule('invalid_field', `${name} must be a string of 1–${PASSWORD_MAX} characters`);
  return z.string(r).min(1, r).max(PASSWORD_MAX, r);
};

/** POST /api/auth/register and /api/auth/login */
export const credentialsBody = z.object({ username, password: newPassword('password') });

/** POST /api/auth/refresh and /api/auth/logout */
export const refreshTokenBody = z.object({
  refreshToken: z
    .string(rule('invalid_field', 'refreshToken must be a non-empty string'))
    .min(1, rule('invalid_field', 'refreshToken must be a non-empty string'))
    .max(REFRESH_TOKEN_MAX, rule('invalid_field', 'refreshToken must be a non-empty string'))
    .meta({ description: 'the opaque refresh token of login or the last refresh' }),
});

/** PUT /api/me/password */
export const passwordChangeBody = z.object({ currentPassword: currentPassword('currentPassword'), newPassword: newPassword('newPassword') });

/** DELETE /api/me: the password again, so an access token alone cannot delete the account. */
export const accountDeletionBody = z.object({ password: currentPassword('password') });

// C0/C1 controls, line/paragraph separators and the bidi controls (which could reorder the text
// around a name in someone else's client): refused, never silently removed.
// eslint-disable-next-line no-control-regex
const UNSAFE_NAME_RE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;

/** PATCH /api/me: `displayName` 1–64 characters after trimming, or null / "" (also after trimming) to clear it. */
export const displayNameBody = z.object({
  displayName: z
    .string(rule('invalid_field', 'displayName must be a string or null'))
    .trim()
    .refine((name) => [...name].length <= DISPLAY_NAME_MAX, rule('invalid_field', `displayName must be at most ${DISPLAY_NAME_MAX} characters`))
    .refine((name) => !UNSAFE_NAME_RE.test(name), rule('invalid_field', 'displayName must not contain control or bidi characters'))
    .transform((name) => (name === '' ? null : name))
    .nullable()
    .meta({ description: `the name to show, ${DISPLAY_NAME_MAX} characters at most after trimming, no control or bidi characters; null or "" clears it` }),
});

const IDS_RULE = 'ids must be given once: user ids separated by commas';

/** GET /api/users/profiles `?ids=a,b,c`: 1–100 user ids, duplicates dropped, in the order given. */
export const profilesQuery = z.object({
  ids: queryString('ids', rule('invalid_field', IDS_RULE))
    .min(1, rule('invalid_field', IDS_RULE))
    .transform((raw) => [...new Set(raw.split(','))])
    .refine((ids) => ids.length <= PROFILES_MAX_IDS, rule('invalid_field', `ids: at most ${PROFILES_MAX_IDS} user ids`))
    .refine((ids) => ids.every((id) => USER_ID_RE.test(id)), rule('invalid_field', 'ids must be user ids separated by commas'))
    .meta({ description: `1–${PROFILES_MAX_IDS} user ids separated by commas` }),
});
