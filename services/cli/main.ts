// The operator CLI: `cli <group> <command> [args]`, one module per group. Shipped in every image
// as `node dist/cli.js …` (a shim scripts/copy-assets.mjs writes next to the compiled services),
// run in a checkout as `npm run cli -- …`. It reads the same environment as the services, so in
// a container or pod (`kubectl exec deploy/ingestion -- node dist/cli.js dead-letters list`) it
// acts on that deployment's Redis and store with nothing else to configure.
//
// Exit codes, the same for every command: 0 done, 1 the operation failed (or did not do all it
// was asked), 2 bad usage or configuration — then one line on stderr and nothing on stdout.
import * as config from './config.js';
import * as deadLetters from './dead-letters.js';
import * as membership from './membership.js';
import { EXIT, OperatorConfigError, say, UsageError, warn } from './operator.js';
import * as store from './store.js';
import * as token from './token.js';
import * as users from './users.js';

interface Group {
  usage: string;
  summary: string;
  run(args: readonly string[]): Promise<number>;
}

const GROUPS: Record<string, Group> = {
  config: { ...config, summary: 'check or print the configuration a service would run with (secrets masked)' },
  'dead-letters': { ...deadLetters, summary: 'list, re-drive, export or purge the ingestion dead letters' },
  users: { ...users, summary: 'disable (ending every session) or enable an account' },
  membership: { ...membership, summary: 'rebuild the room ACLs in Redis from the store' },
  token: { ...token, summary: 'mint a short-lived support access token for a user, or end one' },
  store: { ...store, summary: 'show the store\'s schema version, or run its pending migrations now' },
};

function help(): string {
  const lines = ['usage: cli <group> <command> [options]   (npm run cli -- … in a checkout, node dist/cli.js … in the images)', ''];
  for (const [name, g] of Object.entries(GROUPS)) {
    lines.push(`  ${name}: ${g.summary}`);
    for (const form of g.usage.split(' | ')) lines.push(`    ${form.startsWith(`${name} `) ? form : `${name} ${form}`}`);
    lines.push('');
  }
  lines.push('Exit codes: 0 done, 1 failed, 2 bad usage or configuration. Reads the services\' environment (REDIS_URL, MONGO_URL, …).');
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    const group = args[0] === undefined ? undefined : GROUPS[args[0]];
    say(group ? `usage: ${group.usage}` : help());
    return EXIT.ok;
  }
  const group = name === undefined ? undefined : GROUPS[name];
  if (!group) {
    warn(`cli: ${name === undefined ? 'missing command group' : `unknown command group ${JSON.stringify(name)}`}; groups: ${Object.keys(GROUPS).join(', ')} (cli help)`);
    return EXIT.usage;
  }
  try {
    return await group.run(args);
  } catch (err) {
    if (err instanceof UsageError) warn(`${name}: ${err.message}; usage: ${group.usage}`);
    else if (err instanceof OperatorConfigError) warn(`${name}: configuration error: ${err.message}`);
    else {
      warn(`${name}: failed: ${err instanceof Error ? err.message : String(err)}`);
      return EXIT.failed;
    }
    return EXIT.usage;
  }
}

process.exitCode = await main(process.argv.slice(2));
// Every command closes what it opened; should a driver keep a handle open anyway, an operator's
// shell must not hang on it (stdout is written synchronously to a pipe or file by then).
setTimeout(() => process.exit(), 2000).unref();
