// What the CLI may show of a setting. Operators paste `config print` and `config check` output
// into tickets and chats, so a secret must never reach it: secret-named settings print as `***`,
// and credentials inside URLs (REDIS_URL, MONGO_URL, anything with `user:password@` or a
// `?password=` option) are cut out while the scheme, host and port — what one debugs — stay.
// Masking by NAME as well as by list means a secret variable added to config.ts later is hidden
// without anyone remembering this file.

export const MASK = '***';

/** Settings that are secret whatever their value (the names config.ts uses, and any like them). */
const SECRET_NAME = /SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIAL|(^|_)TOKEN$/;

/** URL options whose values are credentials (MongoDB's authMechanismProperties can hold an AWS session token). */
const SECRET_PARAM = /pass|secret|token|key|credential|authMechanismProperties/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * `scheme://user:password@host:port/path?opt=v` with the password (or a user-only userinfo, which
 * some providers use for the password) and secret-named options replaced by ***. Everything up to
 * the LAST `@` is treated as userinfo: a malformed URL is over-masked (its host hidden), never under.
 */
export function maskUrl(value: string): string {
  const scheme = /[a-z][a-z0-9+.-]*:\/\//i.exec(value);
  if (!scheme) return value;
  const head = value.slice(0, scheme.index + scheme[0].length);
  let rest = value.slice(head.length);
  let userinfo = '';
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const info = rest.slice(0, at);
    const colon = info.indexOf(':');
    userinfo = `${colon >= 0 ? `${info.slice(0, colon)}:${MASK}` : MASK}@`;
    rest = rest.slice(at + 1);
  }
  rest = rest.replace(/([?&;])([^=&;#]*)=([^&;#]*)/g, (all, sep: string, name: string) =>
    SECRET_PARAM.test(name) ? `${sep}${name}=${MASK}` : all,
  );
  return head + userinfo + rest;
}

/** A setting's value (one element of a list setting) as the CLI may print it. */
export function maskSetting(name: string, value: string): string {
  if (isSecretName(name)) return value === '' ? '' : MASK;
  return maskUrl(value);
}

/**
 * Whether a value that FAILED validation may be echoed in an error: a malformed URL may not
 * parse well enough to be masked, so URLs and secrets are withheld and only named.
 */
export function mayEchoInvalid(name: string, value: string): boolean {
  return !isSecretName(name) && !value.includes('://') && !value.includes('@');
}
