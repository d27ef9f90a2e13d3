// `cli token mint` (services/cli/token.ts): support mints a short-lived access token to act as a
// user. Against a real users service, redis-server and one SQLite file: the token alone is on
// stdout and the real users service accepts it (GET /api/me); it carries the actor claim and
// expires after --ttl (capped at ACCESS_TOKEN_TTL_SEC); the audit line on stderr never holds it;
// it is a session that `token revoke` and `users disable` end at once; a disabled user gets none.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient } from './http.js';

const JWT_SECRET = 'support-token-test-secret-0123456789abcdef';
const ACCESS_TTL = 60;

let redis: TestRedis;
let dir: string;
let users: RunningService;
let common: Record<string, string>;

const { api, signUp } = apiClient(() => users.baseUrl);
const cli = (...args: string[]) => runCli(args, { ...common, LOG_LEVEL: 'info' }, { timeoutMs: 20_000 });

interface Claims {
  sub: string;
  name: string;
  sid: string;
  exp: number;
  iss: string;
  aud: string;
  act?: { sub: string };
}

const claimsOf = (token: string): Claims => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Claims;

/** Mints and checks the one-line contract: the token alone on stdout, one audit line on stderr without it. */
async function mint(...args: string[]): Promise<{ token: string; claims: Claims; audit: string; lifetime: [number, number] }> {
  const t0 = Math.floor(Date.now() / 1000);
  const run = await cli('token', 'mint', ...args);
  const t1 = Math.ceil(Date.now() / 1000);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
  const token = run.stdout.trim();
  const audit = run.stderr.trimEnd().split('\n');
  expect(audit).toHaveLength(1);
  expect(run.stderr).not.toContain(token);
  expect(run.stderr).not.toContain(token.split('.')[2]); // not even the signature
  const claims = claimsOf(token);
  // Access tokens carry no iat (tokens.ts): the lifetime is exp less the time of the mint.
  return { token, claims, audit: audit[0]!, lifetime: [claims.exp - t1, claims.exp - t0] };
}

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-support-token-'));
  common = { REDIS_URL: redis.url, JWT_SECRET, PARTITIONS: '2', SQLITE_PATH: join(dir, 'aurora.db'), ACCESS_TOKEN_TTL_SEC: String(ACCESS_TTL) };
  users = await startService('users', { ...common, LOG_LEVEL: 'warn', BCRYPT_COST: '4', REST_MAX_PER_USER: '100000' });
}, 90_000);

afterAll(async () => {
  await users?.stop('SIGKILL');
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('cli token mint: a support access token', { timeout: 60_000 }, () => {
  it('is accepted by the users service as the user, says who holds it (act) and is audited without the token', async () => {
    const tina = await signUp('tina');
    const { token, claims, audit, lifetime } = await mint('--user', 'TINA', '--ttl', '30', '--operator', 'alice');
    expect(claims).toMatchObject({ sub: tina.user.id, name: 'tina', iss: 'aurorachat', aud: 'aurorachat', act: { sub: 'alice' } });
    expect(lifetime[0]).toBeLessThanOrEqual(30);
    expect(lifetime[1]).toBeGreaterThanOrEqual(30);
    expect(claims.sid).toMatch(/^support-[A-Za-z0-9_-]{20,}$/);
    expect(audit).toContain(`for tina (${tina.user.id}), held by "alice"; session ${claims.sid}, expires ${new Date(claims.exp * 1000).toISOString()}`);
    expect(await api('GET', '/api/me', undefined, token)).toMatchObject({ status: 200, json: { user: { id: tina.user.id, username: 'tina' } } });

    // Without --operator the actor is "support"; the default lifetime is 300 s, capped at ACCESS_TOKEN_TTL_SEC.
    const plain = await mint('--user', 'tina');
    expect(plain.claims.act).toEqual({ sub: 'support' });
    expect(plain.lifetime[0]).toBeLessThanOrEqual(ACCESS_TTL);
    expect(plain.lifetime[1]).toBeGreaterThanOrEqual(ACCESS_TTL);
    expect(plain.audit).toContain(`minted a ${ACCESS_TTL} s access token (capped at ACCESS_TOKEN_TTL_SEC=${ACCESS_TTL})`);
    expect(plain.claims.sid).not.toBe(claims.sid);
  });

  it('expires after --ttl seconds: token_expired, as any access token', async () => {
    await signUp('tom');
    const { token, claims, lifetime } = await mint('--user', 'tom', '--ttl', '2');
    expect(lifetime[0]).toBeLessThanOrEqual(2);
    expect(lifetime[1]).toBeGreaterThanOrEqual(2);
    expect((await api('GET', '/api/me', undefined, token)).status).toBe(200);
    const expired = await waitFor(
      async () => {
        const r = await api('GET', '/api/me', undefined, token);
        return r.status === 200 ? null : r;
      },
      { timeoutMs: 10_000, what: 'the 2 s token refused' },
    );
    expect(Date.now()).toBeGreaterThanOrEqual(claims.exp * 1000);
    expect(expired).toMatchObject({ status: 401, json: { error: { code: 'token_expired' } } });
  });

  it('token revoke ends that session at once and no other', async () => {
    const rita = await signUp('rita');
    const { token, claims } = await mint('--user', 'rita');
    const other = await mint('--user', 'rita');
    expect((await api('GET', '/api/me', undefined, token)).status).toBe(200);
    expect(await cli('token', 'revoke', claims.sid)).toMatchObject({ code: 0, stdout: `revoked session ${claims.sid}\n`, stderr: '' });
    expect(await api('GET', '/api/me', undefined, token)).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });
    expect((await api('GET', '/api/me', undefined, other.token)).status).toBe(200);
    expect((await api('GET', '/api/me', undefined, rita.token)).status).toBe(200);
  });

  it('disabling the user ends a support session like any other; a disabled or unknown user gets no token', async () => {
    const dora = await signUp('dora');
    const { token } = await mint('--user', 'dora');
    const disabled = await cli('users', 'disable', 'dora');
    expect(disabled).toMatchObject({ code: 0, stdout: `disabled dora (${dora.user.id}); ended 2 session(s)\n` });
    expect(await api('GET', '/api/me', undefined, token)).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });

    expect(await cli('token', 'mint', '--user', 'dora')).toMatchObject({ code: 1, stdout: '', stderr: `token: refused: dora (${dora.user.id}) is disabled\n` });
    expect(await cli('token', 'mint', '--user', 'nobody_here')).toMatchObject({ code: 1, stdout: '', stderr: 'token: no user named "nobody_here"\n' });
  });

  it('bad usage or a configuration the users service would refuse: exit 2, one line on stderr, no token', async () => {
    const usage = [['mint'], ['mint', '--user'], ['mint', '--user', 'tina', '--ttl', '0'], ['mint', '--user', 'tina', '--ttl', 'soon'],
      ['mint', '--user', 'tina', '--operator', 'two words'], ['mint', '--user', 'tina', 'extra'], ['revoke'], ['frobnicate']];
    for (const args of usage) {
      const run = await cli('token', ...args);
      expect(run, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(run.stderr).toMatch(/^token: .+; usage: token mint --user <username>[^\n]*\n$/);
    }
    const prod = await runCli(['token', 'mint', '--user', 'tina'], { ...common, NODE_ENV: 'production', JWT_SECRET: 'short' }, { timeoutMs: 20_000 });
    expect(prod).toMatchObject({ code: 2, stdout: '' });
    expect(prod.stderr).toMatch(/^token: configuration error: invalid JWT_SECRET: production needs a random secret[^\n]*\n$/);
    expect(prod.stderr).not.toContain('short');
  });
});
