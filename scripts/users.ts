// `npm run users -- disable <username>` / `npm run users -- enable <username>`: an operator's
// moderation of one account (issue 14). Disabling sets the user's flag in the store, which also
// revokes every refresh-token family of theirs (store.ts setUserDisabled), then revokes each of
// those sessions in Redis (services/shared/sessions.ts): every chat replica closes the user's
// sockets with 4001 at once, and their access tokens are refused by the users service and the
// chat handshake although they have not expired. Login then answers 403 account_disabled and
// refresh 401. Enabling clears the flag only: ended sessions stay ended, the user signs in again.
//
// Uses the same configuration as the services (REDIS_URL, MONGO_URL/SQLITE_PATH, PARTITIONS,
// ACCESS_TOKEN_TTL_SEC — the revocation must outlive the access tokens). Exit codes: 0 done,
// 1 no such user or a failure (Redis or the store), 2 bad usage or configuration.
import { ConfigError, loadConfig, type Config } from '../services/shared/config.js';
import { keysFor } from '../services/shared/keys.js';
import { createLogger } from '../services/shared/logger.js';
import { closeRedis, createRedis } from '../services/shared/redis.js';
import { revokeSession } from '../services/shared/sessions.js';
import { createStore } from '../services/shared/store/index.js';

const USAGE = 'usage: users disable <username> | users enable <username>';

function parseArgs(argv: readonly string[]): { disable: boolean; username: string } | null {
  const [command, username, ...rest] = argv;
  if ((command !== 'disable' && command !== 'enable') || !username || rest.length > 0) return null;
  return { disable: command === 'disable', username };
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const fail = (line: string, code: number) => {
  process.stderr.write(`${line}\n`);
  process.exitCode = code;
};

async function run(config: Config, disable: boolean, username: string): Promise<void> {
  const log = createLogger(config);
  const store = await createStore(config, log);
  const redis = createRedis(config, log, { role: 'users-admin' });
  try {
    // Redis first: once the store has revoked the families a second run finds none to end, so
    // a Redis that cannot take the session revocations must stop us before anything changes.
    await redis.ping();
    const user = await store.findUserByUsername(username);
    if (!user) return fail(`no user named ${JSON.stringify(username)}`, 1);
    const { found, families } = await store.setUserDisabled(user.id, disable);
    if (!found) return fail(`no user named ${JSON.stringify(username)}`, 1);
    const who = `${user.username} (${user.id})`;
    if (!disable) {
      say(user.disabled ? `enabled ${who}: they can sign in again` : `${who} was not disabled; nothing changed`);
      return;
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
    if (failed.length > 0) {
      // Their refresh tokens are revoked already; only the live sockets and access tokens of
      // these sessions last, at most ACCESS_TOKEN_TTL_SEC.
      fail(
        `could not revoke ${failed.length} session(s) in Redis (${failed.join(', ')}): their sockets stay open and their ` +
          `access tokens valid for up to ${config.ACCESS_TOKEN_TTL_SEC}s`,
        1,
      );
    }
  } finally {
    await closeRedis(redis);
    await store.close();
  }
}

const args = parseArgs(process.argv.slice(2));
if (!args) {
  fail(USAGE, 2);
} else {
  let config: Config | undefined;
  try {
    // The ingestion config: this script signs and verifies no token (see config.ts usesJwt).
    config = loadConfig('ingestion');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    fail(`configuration error: ${err.message}`, 2);
  }
  if (config) {
    await run(config, args.disable, args.username).catch((err: unknown) => fail(`failed: ${err instanceof Error ? err.message : String(err)}`, 1));
  }
}
