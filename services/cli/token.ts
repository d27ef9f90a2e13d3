// `cli token mint --user <username> [--ttl 300] [--operator NAME]`: a short-lived ACCESS token
// for support to act as that user (reproduce what they see, through the REST API or a socket).
// There is no admin role in AuroraChat — every right is a user's right in a room — so an
// "admin token" is this: the user's own access token, marked as held by someone else.
//
// - Short-lived: --ttl seconds (default 300), never more than ACCESS_TOKEN_TTL_SEC. There is no
//   refresh token: when it expires, support mints another (and is audited again).
// - A real session: the token's `sid` is a refresh-token family saved in the store with one token
//   that nobody holds (only a random hash is stored), so everything that ends a user's sessions
//   ends this one too — `users disable`, a password change, deleting the account — and
//   `token revoke <session>` ends it alone, at once, on every replica (shared/sessions.ts).
// - Marked: an RFC 8693 actor claim, `act: {sub: "support"}` (or --operator NAME), in the signed
//   token, so whoever decodes it sees who really holds it; verification ignores it.
// - Printed alone on stdout (`TOKEN=$(… token mint --user dina)`); the audit line — who, for
//   whom, session, expiry, never the token — goes to stderr.
// - Refused for a disabled (or deleted) account: support must not revive what an operator ended.
//
// Signs with the users service's configuration (JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE): run it
// where that service's environment is (its container or pod). Exit codes: 0 done, 1 no such user,
// a refused user or a failure, 2 bad usage or configuration.
import { randomBytes } from 'node:crypto';
import { keysFor } from '../shared/keys.js';
import { closeRedis, createRedis } from '../shared/redis.js';
import { revokeSession } from '../shared/sessions.js';
import { createStore } from '../shared/store/index.js';
import { signAccessToken, tokenScope } from '../shared/tokens.js';
import { EXIT, intFlag, loadOperatorConfig, operatorLogger, parseFlags, say, stringFlag, UsageError, warn } from './operator.js';

export const usage = 'token mint --user <username> [--ttl SECONDS] [--operator NAME] | token revoke <session-id>';

const DEFAULT_TTL_SEC = 300;
const OPERATOR_RE = /^[A-Za-z0-9._@-]{1,64}$/;
/** Session ids of support tokens say what they are wherever they show up (audit lines, revocations). */
const SESSION_PREFIX = 'support-';

export async function run(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === 'mint') {
    const parsed = parseFlags(rest, { user: 'value', ttl: 'value', operator: 'value' }, 'token mint');
    const username = stringFlag(parsed, 'user');
    if (username === undefined) throw new UsageError('mint needs --user <username>');
    const ttl = intFlag(parsed, 'ttl', DEFAULT_TTL_SEC, 1, 86_400);
    const operator = stringFlag(parsed, 'operator') ?? 'support';
    if (!OPERATOR_RE.test(operator)) throw new UsageError('--operator takes 1 to 64 letters, digits and . _ @ -');
    return mint(username, ttl, operator);
  }
  if (command === 'revoke') {
    const { positional } = parseFlags(rest, {}, 'token revoke', 1);
    if (positional.length === 0) throw new UsageError('revoke needs a session id (the audit line of mint names it)');
    return revoke(positional[0]!);
  }
  throw new UsageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`);
}

async function mint(username: string, ttlAsked: number, operator: string): Promise<number> {
  const config = loadOperatorConfig('users');
  const ttl = Math.min(ttlAsked, config.ACCESS_TOKEN_TTL_SEC);
  const store = await createStore(config, operatorLogger(config));
  try {
    const user = await store.findUserByUsername(username);
    if (!user) {
      warn(`token: no user named ${JSON.stringify(username)}`);
      return EXIT.failed;
    }
    if (user.disabled) {
      warn(`token: refused: ${user.username} (${user.id}) is ${user.deleted ? 'deleted' : 'disabled'}`);
      return EXIT.failed;
    }
    const sid = SESSION_PREFIX + randomBytes(16).toString('base64url');
    const now = Date.now();
    // The session's one refresh token: a random "hash" no token has, so it can never be refreshed.
    await store.saveRefreshToken({ tokenHash: randomBytes(32).toString('hex'), userId: user.id, familyId: sid, expiresAt: now + ttl * 1000 });
    const { token, exp } = signAccessToken(config.JWT_SECRET, { id: user.id, name: user.username }, ttl, {
      ...tokenScope(config),
      sid,
      iat: Math.floor(now / 1000),
      act: { sub: operator },
    });
    warn(
      `token: minted a ${ttl} s access token${ttl < ttlAsked ? ` (capped at ACCESS_TOKEN_TTL_SEC=${config.ACCESS_TOKEN_TTL_SEC})` : ''} ` +
        `for ${user.username} (${user.id}), held by ${JSON.stringify(operator)}; session ${sid}, expires ${new Date(exp * 1000).toISOString()}; ` +
        `end it early with: token revoke ${sid}`,
    );
    say(token);
    return EXIT.ok;
  } catch (err) {
    warn(`token: failed: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  } finally {
    await store.close();
  }
}

/** Ends one session: no refresh in the store, its sockets and access tokens refused now (sessions.ts). */
async function revoke(sid: string): Promise<number> {
  const config = loadOperatorConfig('ingestion');
  const log = operatorLogger(config);
  const store = await createStore(config, log);
  const redis = createRedis(config, log, { role: 'token-revoke' });
  try {
    await redis.ping(); // as `users disable`: change nothing unless the revocation can be published
    await store.revokeRefreshFamily(sid);
    await revokeSession(redis, keysFor(config.PARTITIONS), sid, config.ACCESS_TOKEN_TTL_SEC);
    say(`revoked session ${sid}`);
    return EXIT.ok;
  } catch (err) {
    warn(`token: failed: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  } finally {
    await closeRedis(redis);
    await store.close();
  }
}
