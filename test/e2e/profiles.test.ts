// Profiles end to end (issue 16 "Profiles", docs/REST.md `PUT /api/me/password`): the real users
// service and a chat replica on one redis-server and one SQLite file. A password change ends
// every other session of the user at once — its socket closes with 4001, its access and refresh
// tokens are refused — while the session that made the change keeps working; the old password
// no longer signs in, the new one does; a wrong current password is throttled like a login.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokenPng, gif, hasGpsPointer, jpegWithGps, pdf, png, pngBomb } from '../../services/users/files/test-fixtures.js';
import { TestClient } from '../chat/client.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient, PASSWORD, type Session } from './http.js';

const JWT_SECRET = 'profiles-test-secret-0123456789abcdef01';
const ORIGIN = 'http://chat.example.test';
const NEW_PASSWORD = 'a brand new passphrase';
const MAX_FAILURES = 3;

let redis: TestRedis;
let dir: string;
let users: RunningService;
let chat: RunningService;
const open: TestClient[] = [];

const { api, signUp } = apiClient(() => users.baseUrl);
const login = (username: string, password = PASSWORD) => api<Session>('POST', '/api/auth/login', { username, password });
const changePassword = (token: string | undefined, body: unknown) => api('PUT', '/api/me/password', body, token);

async function connect(token: string): Promise<TestClient> {
  const c = await TestClient.connect(chat.baseUrl, token, { origin: ORIGIN });
  open.push(c);
  return c;
}

/** `p`, or a rejection after `ms`: a socket that is never closed fails the test, never hangs it. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-profiles-'));
  const common = { REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'warn', PARTITIONS: '2', SQLITE_PATH: join(dir, 'aurora.db'), FILES_DIR: join(dir, 'files') };
  users = await startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000', LOGIN_MAX_FAILURES: String(MAX_FAILURES) });
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

describe('PUT /api/me/password', { timeout: 60_000 }, () => {
  it('ends the other sessions at once and keeps the caller signed in; only the new password signs in', async () => {
    const laptop = await signUp('pia');
    const phone = (await login('pia')).json; // a second session of hers
    const omar = await signUp('omar');
    const laptopSock = await connect(laptop.token);
    const phoneSock = await connect(phone.token);
    await phoneSock.join('general');
    const omarSock = await connect(omar.token);

    expect(await changePassword(laptop.token, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD })).toEqual({ status: 204, json: null });

    // the phone's socket is closed by the revocation, at once
    expect(await within(phoneSock.closed, 10_000, 'phone socket close')).toBe(4001);
    expect(phoneSock.closeReason).toBe('session ended');
    expect(await api('GET', '/api/me', undefined, phone.token)).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });
    expect(await api('POST', '/api/auth/refresh', { refreshToken: phone.refreshToken })).toMatchObject({
      status: 401,
      json: { error: { code: 'invalid_refresh_token' } },
    });

    // the laptop (the caller) goes on: its socket, its access token, its refresh token
    expect(laptopSock.closeCode).toBeNull();
    await laptopSock.join('general');
    expect((await laptopSock.sendText('general', 'still here', 'c-still')).type).toBe('ack');
    expect((await api('GET', '/api/me', undefined, laptop.token)).status).toBe(200);
    const refreshed = await api<Session>('POST', '/api/auth/refresh', { refreshToken: laptop.refreshToken });
    expect(refreshed.status).toBe(200);
    expect((await api('GET', '/api/me', undefined, refreshed.json.token)).json.user).toEqual({ id: laptop.user.id, username: 'pia' });

    // only the new password signs in
    expect(await login('pia')).toMatchObject({ status: 401, json: { error: { code: 'invalid_credentials' } } });
    expect((await login('pia', NEW_PASSWORD)).status).toBe(200);

    // nobody else is touched
    expect(omarSock.closeCode).toBeNull();
    expect((await api('GET', '/api/me', undefined, omar.token)).status).toBe(200);
    expect((await api('POST', '/api/auth/refresh', { refreshToken: omar.refreshToken })).status).toBe(200);
  });

  it('refuses bad input and a wrong current password, changing nothing; wrong guesses are throttled like logins', async () => {
    const rae = await signUp('rae');
    const other = (await login('rae')).json;
    const otherSock = await connect(other.token);

    expect(await changePassword(undefined, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD })).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });
    expect(await changePassword(rae.token, { newPassword: NEW_PASSWORD })).toMatchObject({ status: 400, json: { error: { code: 'invalid_field' } } });
    expect(await changePassword(rae.token, { currentPassword: PASSWORD, newPassword: 'short' })).toMatchObject({ status: 400, json: { error: { code: 'invalid_password' } } });
    expect(await changePassword(rae.token, { currentPassword: PASSWORD, newPassword: 'x'.repeat(129) })).toMatchObject({ status: 400, json: { error: { code: 'invalid_password' } } });
    expect(await changePassword(rae.token, [PASSWORD])).toMatchObject({ status: 400, json: { error: { code: 'invalid_body' } } });
    expect(await api('POST', '/api/me/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, rae.token)).toMatchObject({ status: 405 });

    for (let i = 0; i < MAX_FAILURES; i++) {
      expect(await changePassword(rae.token, { currentPassword: `wrong password ${i}`, newPassword: NEW_PASSWORD })).toMatchObject({
        status: 401,
        json: { error: { code: 'invalid_credentials' } },
      });
    }
    // over the budget: refused before the password is even checked, the right one too — and
    // the guesses counted against login from this address as well
    const throttled = await changePassword(rae.token, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    expect(throttled).toMatchObject({ status: 429, json: { error: { code: 'too_many_attempts' } } });
    expect(await login('rae')).toMatchObject({ status: 429, json: { error: { code: 'too_many_attempts' } } });

    // nothing changed: the other session lives, the caller is still signed in
    expect(otherSock.closeCode).toBeNull();
    expect((await api('GET', '/api/me', undefined, other.token)).status).toBe(200);
    expect((await api('GET', '/api/me', undefined, rae.token)).status).toBe(200);
  });
});

describe('display names', { timeout: 60_000 }, () => {
  it('PATCH /api/me sets and clears it; /api/me, user search, member lists, peers and profiles carry it', async () => {
    const ada = await signUp('ada_l');
    const ben = await signUp('ben_b');
    const cat = await signUp('cat_c');
    const set = await api('PATCH', '/api/me', { displayName: '  Ada Lovelace 🧮 ' }, ada.token);
    expect(set).toEqual({ status: 200, json: { user: { id: ada.user.id, username: 'ada_l', displayName: 'Ada Lovelace 🧮' } } });
    expect((await api('GET', '/api/me', undefined, ada.token)).json).toEqual({ user: { id: ada.user.id, username: 'ada_l', displayName: 'Ada Lovelace 🧮' }, dnd: false });
    expect((await api('GET', '/api/users?query=ada_', undefined, ben.token)).json).toEqual({ users: [{ id: ada.user.id, username: 'ada_l', displayName: 'Ada Lovelace 🧮' }] });

    const group = await api('POST', '/api/rooms', { kind: 'group', members: [ada.user.id, cat.user.id] }, ben.token);
    expect(group.status).toBe(201);
    const room = group.json.room.name as string;
    const members = (await api('GET', `/api/rooms/${encodeURIComponent(room)}/members`, undefined, ben.token)).json.members as any[];
    expect(members.find((m) => m.id === ada.user.id)).toMatchObject({ username: 'ada_l', displayName: 'Ada Lovelace 🧮' });
    expect(members.find((m) => m.id === cat.user.id)).not.toHaveProperty('displayName');
    const mine = (await api('GET', '/api/me/rooms', undefined, ben.token)).json.rooms.find((r: any) => r.name === room);
    expect(mine.peers.map((p: any) => [p.username, p.displayName])).toEqual([['ada_l', 'Ada Lovelace 🧮'], ['cat_c', undefined]]);

    // profiles of message authors, by id: in the order asked, once each, unknown ids left out
    const profiles = await api('GET', `/api/users/profiles?ids=${cat.user.id},nobody000000,${ada.user.id},${cat.user.id}`, undefined, ben.token);
    expect(profiles).toEqual({
      status: 200,
      json: { profiles: [{ id: cat.user.id, username: 'cat_c' }, { id: ada.user.id, username: 'ada_l', displayName: 'Ada Lovelace 🧮' }] },
    });

    // clearing: null and "" (after trimming) both do
    expect((await api('PATCH', '/api/me', { displayName: null }, ada.token)).json).toEqual({ user: { id: ada.user.id, username: 'ada_l' } });
    expect((await api('PATCH', '/api/me', { displayName: 'Ada' }, ada.token)).json.user.displayName).toBe('Ada');
    expect((await api('PATCH', '/api/me', { displayName: '   ' }, ada.token)).json).toEqual({ user: { id: ada.user.id, username: 'ada_l' } });
    expect((await api('GET', '/api/me', undefined, ada.token)).json.user).toEqual({ id: ada.user.id, username: 'ada_l' });
  });

  it('refuses names that are too long, not strings, or carry control or bidi characters, changing nothing', async () => {
    const dot = await signUp('dot_d');
    expect((await api('PATCH', '/api/me', { displayName: 'Dot' }, dot.token)).status).toBe(200);
    const refused = [{}, { displayName: 42 }, { displayName: ['x'] }, { displayName: 'x'.repeat(65) }, { displayName: 'evil\u202Etxt.exe' }, { displayName: 'two\nlines' }, { displayName: 'nul\u0000' }];
    for (const body of refused) {
      expect(await api('PATCH', '/api/me', body, dot.token), JSON.stringify(body)).toMatchObject({ status: 400, json: { error: { code: 'invalid_field' } } });
    }
    // 64 characters (code points, not UTF-16 units) is fine
    expect((await api('PATCH', '/api/me', { displayName: '🙂'.repeat(64) }, dot.token)).status).toBe(200);
    expect((await api('PATCH', '/api/me', { displayName: 'Dot' }, dot.token)).status).toBe(200);
    expect((await api('GET', '/api/me', undefined, dot.token)).json.user.displayName).toBe('Dot');
    expect(await api('PATCH', '/api/me', { displayName: 'X' })).toMatchObject({ status: 401 });
    expect(await api('PUT', '/api/me', { displayName: 'X' }, dot.token)).toMatchObject({ status: 405 });
    // DELETE /api/me is the account deletion (account-deletion.test.ts): without a password, refused
    expect(await api('DELETE', '/api/me', undefined, dot.token)).toMatchObject({ status: 400, json: { error: { code: 'invalid_body' } } });

    const ids = (n: number) => Array.from({ length: n }, (_, i) => `user${String(i).padStart(8, '0')}`).join(',');
    for (const q of ['', '?ids=', `?ids=${ids(101)}`, '?ids=a,b/c', '?ids=a&ids=b']) {
      expect(await api('GET', `/api/users/profiles${q}`, undefined, dot.token), q).toMatchObject({ status: 400, json: { error: { code: 'invalid_field' } } });
    }
    expect(await api('GET', `/api/users/profiles?ids=${ids(100)}`, undefined, dot.token)).toEqual({ status: 200, json: { profiles: [] } });
    expect(await api('GET', `/api/users/profiles?ids=${dot.user.id}`)).toMatchObject({ status: 401 });
  });
});

describe('avatars', { timeout: 60_000 }, () => {
  const putAvatar = async (token: string | undefined, body: Uint8Array, type = 'application/octet-stream') => {
    const res = await fetch(`${users.baseUrl}/api/me/avatar`, { method: 'PUT', headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
    return { status: res.status, json: (await res.json()) as any };
  };
  const getAvatar = (id: string) => fetch(`${users.baseUrl}/avatars/${id}`);
  /** Every file under FILES_DIR. */
  const storedFiles = () => readdirSync(join(dir, 'files'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();

  it('stores a square 256 px WebP without EXIF, served without a token and cached for good; a new one replaces and deletes the old', async () => {
    const vi = await signUp('vi_v');
    const wes = await signUp('wes_w');
    const phone = await jpegWithGps(400, 200);
    expect(hasGpsPointer((await sharp(phone).metadata()).exif), 'the fixture carries GPS').toBe(true);
    const first = await putAvatar(vi.token, phone, 'image/jpeg');
    expect(first.status).toBe(200);
    const a1 = first.json.user.avatar as string;
    expect(first.json).toEqual({ user: { id: vi.user.id, username: 'vi_v', avatar: a1 } });
    expect(a1).toMatch(/^a[0-9a-f]{24}$/);

    const res = await getAvatar(a1);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/webp');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const bytes = Buffer.from(await res.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 256, height: 256 });
    expect(meta.exif).toBeUndefined();
    expect(bytes.includes(Buffer.from('Exif', 'latin1'))).toBe(false);

    // everywhere the user is shown
    expect((await api('GET', '/api/me', undefined, vi.token)).json.user).toEqual({ id: vi.user.id, username: 'vi_v', avatar: a1 });
    expect((await api('GET', `/api/users/profiles?ids=${vi.user.id}`, undefined, wes.token)).json.profiles).toEqual([{ id: vi.user.id, username: 'vi_v', avatar: a1 }]);

    // a new avatar: a new id; the old one is gone, from the route and from storage
    const second = await putAvatar(vi.token, await gif(60, 20), 'image/gif');
    const a2 = second.json.user.avatar as string;
    expect(second.status).toBe(200);
    expect(a2).not.toBe(a1);
    expect((await getAvatar(a1)).status).toBe(404);
    expect((await getAvatar(a2)).status).toBe(200);
    expect(storedFiles().filter((f) => f.startsWith(a1))).toEqual([]);
    expect(storedFiles().filter((f) => f.startsWith(a2)).length).toBeGreaterThan(0);

    // removing it
    expect(await api('DELETE', '/api/me/avatar', undefined, vi.token)).toEqual({ status: 200, json: { user: { id: vi.user.id, username: 'vi_v' } } });
    expect((await getAvatar(a2)).status).toBe(404);
    expect(storedFiles().filter((f) => f.startsWith(a2))).toEqual([]);
    expect((await api('GET', '/api/me', undefined, vi.token)).json.user).toEqual({ id: vi.user.id, username: 'vi_v' });
    expect(await api('DELETE', '/api/me/avatar', undefined, vi.token)).toEqual({ status: 200, json: { user: { id: vi.user.id, username: 'vi_v' } } });
  });

  it('refuses what is not an image, too big, empty or unsigned; /avatars serves no attachment and no made-up id', async () => {
    const xan = await signUp('xan_x');
    const before = storedFiles();
    const refused: [Uint8Array, number, string][] = [
      [pdf(), 415, 'unsupported_media_type'],
      [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), 415, 'unsupported_media_type'],
      [await brokenPng(), 415, 'unsupported_media_type'],
      [pngBomb(), 413, 'payload_too_large'],
      [Buffer.alloc(0), 400, 'invalid_body'],
    ];
    for (const [body, status, code] of refused) {
      expect(await putAvatar(xan.token, body), code).toMatchObject({ status, json: { error: { code } } });
    }
    expect(await putAvatar(undefined, await png(20, 20))).toMatchObject({ status: 401 });
    expect(storedFiles()).toEqual(before);
    expect((await api('GET', '/api/me', undefined, xan.token)).json.user).toEqual({ id: xan.user.id, username: 'xan_x' });

    // an attachment shares the id shape and the storage: never served here
    const upload = await fetch(`${users.baseUrl}/api/rooms/general/attachments?name=cat.png`, {
      method: 'POST',
      headers: { authorization: `Bearer ${xan.token}`, 'content-type': 'application/octet-stream' },
      body: await png(40, 40),
    });
    expect(upload.status).toBe(201);
    const attId = ((await upload.json()) as any).attachment.id as string;
    expect((await getAvatar(attId)).status).toBe(404);
    for (const id of [`a${'0'.repeat(24)}`, '..%2Faurora.db', 'nope']) expect((await getAvatar(id)).status, id).toBe(404);
  });
});

describe('the live profile frame', { timeout: 60_000 }, () => {
  it('a member of a shared room and the user’s other device see a name or avatar change at once; others do not', async () => {
    const yan = await signUp('yan_y');
    const zed = await signUp('zed_z');
    const out = await signUp('out_o'); // shares no room with yan
    const group = await api('POST', '/api/rooms', { kind: 'group', members: [yan.user.id, out.user.id] }, zed.token);
    expect(group.status).toBe(201);
    const room = group.json.room.name as string;
    // out leaves: a room they are no longer in brings them nothing
    expect((await api('DELETE', `/api/rooms/${encodeURIComponent(room)}/members/${out.user.id}`, undefined, out.token)).status).toBe(200);

    const zedSock = await connect(zed.token);
    await zedSock.join(room);
    const yanOther = await connect(yan.token); // another device of yan's, in no room
    const outSock = await connect(out.token);
    await outSock.join('general');

    expect((await api('PATCH', '/api/me', { displayName: 'Yan the Great' }, yan.token)).status).toBe(200);
    const expected = { type: 'profile', user: { id: yan.user.id, name: 'yan_y', displayName: 'Yan the Great' } };
    expect(await zedSock.next('profile')).toEqual(expected);
    expect(await yanOther.next('profile')).toEqual(expected);

    const put = await fetch(`${users.baseUrl}/api/me/avatar`, { method: 'PUT', headers: { authorization: `Bearer ${yan.token}` }, body: await png(64, 64) });
    expect(put.status).toBe(200);
    const avatar = ((await put.json()) as any).user.avatar as string;
    const withAvatar = { type: 'profile', user: { ...expected.user, avatar } };
    expect(await zedSock.next('profile')).toEqual(withAvatar);
    expect(await yanOther.next('profile')).toEqual(withAvatar);

    expect((await api('DELETE', '/api/me/avatar', undefined, yan.token)).status).toBe(200);
    expect(await zedSock.next('profile')).toEqual(expected);

    // a frame sent after all of these reaches out's socket: had any profile frame been sent to
    // them, it would have arrived first (one connection, in order)
    const zedGeneral = await connect(zed.token);
    await zedGeneral.join('general');
    await zedGeneral.sendText('general', 'marker', 'c-marker');
    await outSock.next('message', (f) => f.text === 'marker');
    expect(outSock.all('profile')).toEqual([]);
  });
});
