// An operator disables an account (issue 14, "Moderation"): `npm run cli -- users disable <name>`
// (services/cli/users.ts) ends every session of the user at once — the open socket closes with 4001,
// the unexpired access token is refused by REST and by the chat handshake, the refresh token is
// refused — and login answers 403 account_disabled (only to the right password); `enable` lets
// them sign in again. Real processes: the users service, a chat replica, redis-server, the
// operator command itself, one SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRejected, TestClient } from '../chat/client.js';
import { runCli } from '../helpers/cli.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient, PASSWORD, type Session } from './http.js';

const JWT_SECRET = 'disable-user-test-secret-0123456789abcdef';
const ORIGIN = 'http://chat.example.test';

let redis: TestRedis;
let dir: string;
let users: RunningService;
let chat: RunningService;
let common: Record<string, string>;
const open: TestClient[] = [];

const { api, signUp } = apiClient(() => users.baseUrl);
const login = (username: string, password = PASSWORD) => api<Session>('POST', '/api/auth/login', { username, password });

async function connect(token: string): Promise<TestClient> {
  const c = await TestClient.connect(chat.baseUrl, token, { origin: ORIGIN });
  open.push(c);
  return c;
}

/** Runs `cli users <args>` (services/cli/users.ts) as an operator would, with the services' environment. */
const usersCommand = (...args: string[]) => runCli(['users', ...args], { ...common, LOG_LEVEL: 'info' }, { timeoutMs: 20_000 });

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-disable-'));
  common = { REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'warn', PARTITIONS: '2', SQLITE_PATH: join(dir, 'aurora.db') };
  users = await startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000' });
  chat = await startService(
    'chat',
    { ...common, REPLICA_ID: 'chat-a', HANDSHAKE_MAX_PER_USER: '100000', HANDSHAKE_MAX_PER_IP: '100000', SHUTDOWN_DRAIN_MS: '200' },
    { waitReady: true },
  );
}, 90_000);

afterAll(async () => {
  for (const c of open) await c.close().catch(() => {});
  await Promise.all([users, chat].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('an operator disables a user account', { timeout: 60_000 }, () => {
  it('disable ends every session at once and refuses login, refresh and the old tokens; enable lets them sign in again', async () => {
    const dina = await signUp('dina');
    const phone = await login('dina'); // a second session of hers
    expect(phone.status).toBe(200);
    const otto = await signUp('otto');
    const sock = await connect(dina.token);
    await sock.join('general');
    const ottoSock = await connect(otto.token);

    const disabled = await usersCommand('disable', 'DINA');
    expect(disabled).toMatchObject({ code: 0, stderr: '' });
    expect(disabled.stdout).toBe(`disabled dina (${dina.user.id}); ended 2 session(s)\n`);

    // her socket is closed by the revocation, not by an expiry
    expect(await sock.closed).toBe(4001);
    expect(sock.closeReason).toBe('session ended');
    // the unexpired access tokens of both sessions open nothing any more
    for (const token of [dina.token, phone.json.token]) {
      expect(await api('GET', '/api/me', undefined, token)).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });
    }
    const wsUrl = chat.baseUrl.replace(/^http/, 'ws') + '/ws';
    expect(await expectRejected(wsUrl, ['aurora.v1', `bearer.${dina.token}`], { origin: ORIGIN })).toBe(401);
    // neither refresh token is taken
    for (const refreshToken of [dina.refreshToken, phone.json.refreshToken]) {
      expect(await api('POST', '/api/auth/refresh', { refreshToken })).toMatchObject({ status: 401, json: { error: { code: 'invalid_refresh_token' } } });
    }
    // login: 403 with the right password only; a wrong one gets the usual answer
    expect(await login('dina')).toMatchObject({ status: 403, json: { error: { code: 'account_disabled' } } });
    expect(await login('dina', 'not her password at all')).toMatchObject({ status: 401, json: { error: { code: 'invalid_credentials' } } });

    // nobody else is touched
    expect(ottoSock.closeCode).toBeNull();
    expect((await api('GET', '/api/me', undefined, otto.token)).status).toBe(200);

    // disabling again: nothing left to end
    expect(await usersCommand('disable', 'dina')).toMatchObject({ code: 0, stdout: `dina (${dina.user.id}) was already disabled; ended 0 session(s)\n` });

    const enabled = await usersCommand('enable', 'dina');
    expect(enabled).toMatchObject({ code: 0, stdout: `enabled dina (${dina.user.id}): they can sign in again\n`, stderr: '' });
    const again = await login('dina');
    expect(again.status).toBe(200);
    expect((await api('GET', '/api/me', undefined, again.json.token)).json).toEqual({ user: { id: dina.user.id, username: 'dina' }, dnd: false });
    const back = await connect(again.json.token);
    await back.join('general');
    expect((await back.sendText('general', 'back again', 'c-back')).type).toBe('ack');
    // the old sessions stay ended
    expect((await api('GET', '/api/me', undefined, dina.token)).status).toBe(401);
    expect((await api('POST', '/api/auth/refresh', { refreshToken: dina.refreshToken })).status).toBe(401);
  });

  it('an unknown user or a bad command changes nothing and says so', async () => {
    expect(await usersCommand('disable', 'nobody_here')).toMatchObject({ code: 1, stdout: '', stderr: 'no user named "nobody_here"\n' });
    for (const args of [['delete', 'otto'], ['disable'], ['disable', 'otto', 'dina'], ['enable', '--force', 'otto']]) {
      const usage = await usersCommand(...args);
      expect(usage, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(usage.stderr).toMatch(/^users: .+; usage: users disable <username> \| users enable <username>\n$/);
    }
    expect((await login('otto')).status).toBe(200);
  });
});
