// `cli users disable <username>` / `cli users enable <username>` (`npm run users -- …` too): an
// operator's moderation of one account (issue 14). Disabling sets the user's flag in the store,
// which also revokes every refresh-token family of theirs (store.ts setUserDisabled), then revokes
// each of those sessions in Redis (services/shared/sessions.ts): every chat replica closes the
// user's sockets with 4001 at once, and their access tokens are refused by the users service and
// the chat handshake although they have not expired. Login then answers 403 account_disabled and
// refresh 401. Enabling clears the flag only: ended sessions stay ended, the user signs in again.
// A support token minted for the user (token.ts) is one of those sessions, and ends with them.
//
// Uses the same configuration as the services (REDIS_URL, MONGO_URL/SQLITE_PATH, PARTITIONS,
// ACCESS_TOKEN_TTL_SEC — the revocation must outlive the access tokens). Exit codes: 0 done,
// 1 no such user or a failure (Redis or the store), 2 bad usage or configuration.
import type { Config } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import { closeRedis, createRedis } from '../shared/redis.js';
import { revokeSession } from '../shared/sessions.js';
import { createStore } from '../shared/store/index.js';
import { EXIT, loadOperatorConfig, operatorLogger, parseFlags, say, UsageError, warn } from './operator.js';

export const usage = 'users disable <username> | users enable <username>';

export async function run(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command !== 'disable' && command !== 'enable') {
    throw new UsageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`);
  }
  const { positional } = parseFlags(rest, {}, `users ${command}`, 1);
  if (positional.length === 0) throw new UsageError(`${command} needs a username`);
  // The ingestion config: this command signs and verifies no token (see config.ts usesJwt).
  const config = loadOperatorConfig('ingestion');
  try {
    return await setDisabled(config, command === 'disable', positional[0]!);
  } catch (err) {
    warn(`users: failed: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  }
}

async function setDisabled(config: Config, disable: boolean, username: string): Promise<number> {
  const log = operatorLogger(config);
  const store = await createStore(config, log);
  const redis = createRedis(config, log, { role: 'users-admin' });
  try {
    // Redis first: once the store has revoked the families a second run finds none to end, so
    // a Redis that cannot take the session revocations must stop us before anything changes.
    await redis.ping();
    const user = await store.findUserByUsername(username);
    const { found, families } = user ? await store.setUserDisabled(user.id, disable) : { found: false, families: [] };
    if (!user || !found) {
      warn(`no user named ${JSON.stringify(username)}`);
      return EXIT.failed;
    }
    const who = `${user.username} (${user.id})`;
    if (!disable) {
      say(user.disabled ? `enabled ${who}: they can sign in again` : `${who} was not disabled; nothing changed`);
      return EXIT.ok;
    }
    const keys = keysFor(config.PARTITIONS);
    const failed: string[] = [];
    for (const sid of families) {
      try {
        await revokeSession(redis, keys, sid, config.ACCESS_TOKEN_TTL_SEC);
      } catch {
        failed.push(sid);
      }
    }
    say(`${user.disabled ? `${who} was already disabled` : `disabled ${who}`}; ended ${families.length - failed.length} session(s)`);
    if (failed.length === 0) return EXIT.ok;
    // Their refresh tokens are revoked already; only the live sockets and access tokens of
    // these sessions last, at most ACCESS_TOKEN_TTL_SEC.
    warn(
      `could not revoke ${failed.length} session(s) in Redis (${failed.join(', ')}): their sockets stay open and their ` +
        `access tokens valid for up to ${config.ACCESS_TOKEN_TTL_SEC}s`,
    );
    return EXIT.failed;
  } finally {
    await closeRedis(redis);
    await store.close();
  }
}
