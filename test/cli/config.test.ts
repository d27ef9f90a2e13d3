// `cli config check` and `cli config print` (services/cli/config.ts) as an operator runs them in
// a container: the environment of a real deployment, with real-looking secrets in it. No secret
// string may appear anywhere in the output (asserted with the secrets themselves), while hosts,
// ports and every other setting stay readable with their source; a configuration a service would
// refuse exits 2 naming every bad variable.
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../services/shared/config.js';
import { isSecretName } from '../../services/cli/mask.js';
import { runCli } from '../helpers/cli.js';

const REDIS_PASSWORD = 'R3dis-pw-do-not-print';
const MONGO_PASSWORD = 'M0ngo-pw-do-not-print';
const JWT_SECRET = 'jwt-secret-do-not-print-0123456789abcdef';

/** Every secret-named setting config.ts has, each with its own recognisable value. */
const secretSettings = Object.fromEntries(CONFIG_VARIABLES.filter(isSecretName).map((name) => [name, `${name.toLowerCase()}-do-not-print`]));

const deployment: Record<string, string> = {
  ...secretSettings,
  NODE_ENV: 'production',
  JWT_SECRET,
  REDIS_URL: `redis://default:${REDIS_PASSWORD}@redis.internal:6380/0`,
  MONGO_URL: `mongodb://aurora:${MONGO_PASSWORD}@m1.internal:27017,m2.internal:27017/aurorachat?replicaSet=rs0&authSource=admin`,
  PARTITIONS: '4',
  ALLOWED_ORIGINS: 'https://chat.example.com',
  FILE_STORAGE: 's3',
  S3_BUCKET: 'aurora-files',
  ASSISTANT_PROVIDER: 'openai',
};
const SECRETS = [REDIS_PASSWORD, MONGO_PASSWORD, JWT_SECRET, ...Object.values(secretSettings)];

const cli = (args: string[], env: Record<string, string>) => runCli(['config', ...args], env, { timeoutMs: 20_000 });

function expectNoSecret(run: { stdout: string; stderr: string }): void {
  for (const secret of SECRETS) {
    expect(run.stdout, secret).not.toContain(secret);
    expect(run.stderr, secret).not.toContain(secret);
  }
}

describe('cli config', { timeout: 60_000 }, () => {
  it('print: every setting once with its source, secrets as ***, URL hosts and ports visible', async () => {
    const run = await cli(['print', '--service', 'users'], deployment);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expectNoSecret(run);
    const lines = run.stdout.trimEnd().split('\n');
    for (const name of CONFIG_VARIABLES) expect(lines.filter((l) => l.split(/\s+/)[1]?.startsWith(`${name}=`)), name).toHaveLength(1);
    expect(lines).toContain('env      REDIS_URL=redis://default:***@redis.internal:6380/0');
    expect(lines).toContain('env      MONGO_URL=mongodb://aurora:***@m1.internal:27017,m2.internal:27017/aurorachat?replicaSet=rs0&authSource=admin');
    expect(lines).toContain('env      JWT_SECRET=***');
    for (const name of Object.keys(secretSettings)) expect(lines).toContain(`env      ${name}=***`);
    expect(lines).toContain('env      PARTITIONS=4');
    expect(lines).toContain('default  BCRYPT_COST=10');
    expect(lines).toContain('default  PORT=4000'); // the users service's own default
    expect(lines).toContain('default  ADMIN_PORT=14000'); // PORT + 10000
    expect(lines).toContain('default  HOST=0.0.0.0'); // production's default
    expect(lines).toContain('derived  store=mongo');
  });

  it('print --json: one document of {value, source} per setting, secrets as ***', async () => {
    const run = await cli(['print', '--json'], deployment);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expectNoSecret(run);
    const doc = JSON.parse(run.stdout) as { settings: Record<string, { value: unknown; source: string }> };
    expect(Object.keys(doc.settings)).toEqual(CONFIG_VARIABLES);
    expect(doc.settings.REDIS_URL).toEqual({ value: 'redis://default:***@redis.internal:6380/0', source: 'env' });
    expect(doc.settings.JWT_SECRET).toEqual({ value: '***', source: 'env' });
    expect(doc.settings.PARTITIONS).toEqual({ value: 4, source: 'env' });
    expect(doc.settings.ALLOWED_ORIGINS).toEqual({ value: ['https://chat.example.com'], source: 'env' });
    expect(doc.settings.TRUST_PROXY).toEqual({ value: false, source: 'default' });
    expect(doc.settings.PORT).toEqual({ value: null, source: 'default' }); // no service named: each has its own
  });

  it('check: ok for every service, with a summary and no secret; warnings name what is risky', async () => {
    const run = await cli(['check'], deployment);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expectNoSecret(run);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toContain('users: ok (NODE_ENV=production, listens on 0.0.0.0:4000, store mongo, a single Redis, PARTITIONS=4)');
    expect(lines).toContain('chat: ok (NODE_ENV=production, listens on 0.0.0.0:8080, a single Redis, PARTITIONS=4)');
    expect(lines.filter((l) => l.includes(': ok ('))).toHaveLength(4);
    // Nothing risky here (a key for the provider, both S3 credentials, MongoDB, a real origin).
    expect(lines.filter((l) => l.startsWith('warning:'))).toEqual([]);

    const dev = await cli(['check', '--service', 'chat'], { NODE_ENV: '', REDIS_URL: deployment.REDIS_URL! });
    expect(dev.code).toBe(0);
    expectNoSecret(dev);
    expect(dev.stdout).toContain('chat: ok (NODE_ENV=development, listens on 127.0.0.1:8080');
    expect(dev.stdout).toContain('warning: JWT_SECRET is the public development default');
    expect(dev.stdout).toContain('warning: NODE_ENV is unset');
  });

  it('check: exit 2 naming every bad variable, URL and secret values withheld; a refusal by one service only fails that one', async () => {
    const bad = { ...deployment, PARTITIONS: '0', HEARTBEAT_MS: 'often', REDIS_URL: `redis://default:${REDIS_PASSWORD}@redis.internal:port` };
    const run = await cli(['check'], bad);
    expect(run.code).toBe(2);
    expectNoSecret(run);
    expect(run.stdout.trimEnd().split('\n').sort()).toEqual([
      'error: invalid HEARTBEAT_MS="often": Invalid input: expected number, received NaN',
      'error: invalid PARTITIONS="0": Too small: expected number to be >=1',
      'error: invalid REDIS_URL (value not shown): Invalid URL',
    ]);

    // The development secret in production: users and chat refuse it, the others never use it.
    const devSecret = { ...deployment, JWT_SECRET: '' };
    const all = await cli(['check'], devSecret);
    expect(all.code).toBe(2);
    expect(all.stdout).toMatch(/^users: error: invalid JWT_SECRET: production needs a random secret/m);
    expect(all.stdout).toMatch(/^chat: error: invalid JWT_SECRET/m);
    expect(all.stdout).toMatch(/^ingestion: ok \(/m);
    expect(await cli(['check', '--service', 'ingestion'], devSecret)).toMatchObject({ code: 0 });

    // print refuses what the service would refuse, the same way.
    const print = await cli(['print', '--service', 'users'], bad);
    expect(print).toMatchObject({ code: 2, stdout: '' });
    expectNoSecret(print);
    expect(print.stderr).toContain('config print: users: invalid REDIS_URL (value not shown): Invalid URL');
  });

  it('bad usage: exit 2, one line on stderr', async () => {
    for (const args of [[], ['frobnicate'], ['check', '--service', 'nope'], ['check', '--service'], ['print', 'users'], ['print', '--json', '--json']]) {
      const run = await cli(args, deployment);
      expect(run, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(run.stderr).toMatch(/^config: .+; usage: config check [^\n]*\n$/);
    }
  });
});
