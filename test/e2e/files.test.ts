// Attachments end to end (docs/REST.md "Attachments", DESIGN.md "Files"): the real users service,
// a chat replica and an ingestion process on one redis-server, one SQLite file and a files
// directory. An upload is sniffed, limited and thumbnailed; a send names it and every member gets
// it live; downloads are authorised like history (members; the uploader alone until it is sent;
// nobody once its message is deleted), served with safe headers and ranges; signed links open one
// file for a while and nothing else.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMembersOnlyRoom } from '../../services/shared/rooms.js';
import { TestClient } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { apiClient, type Session } from './http.js';

const JWT_SECRET = 'files-test-secret-0123456789abcdef0123';
const ORIGIN = 'http://chat.example.test';
const MAX_BYTES = 300_000;

let redis: TestRedis;
let dir: string;
let users: RunningService;
let chat: RunningService;
let worker: RunningService;

const { api, signUp } = apiClient(() => users.baseUrl);
const connect = (s: Session) => TestClient.connect(chat.baseUrl, s.token, { origin: ORIGIN });
const enc = encodeURIComponent;

interface Att {
  id: string;
  name: string;
  type: string;
  size: number;
  width?: number;
  height?: number;
  thumb?: true;
}

async function upload(s: Session, room: string, name: string, body: Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(`${users.baseUrl}/api/rooms/${enc(room)}/attachments?name=${enc(name)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/octet-stream', ...headers },
    body,
  });
  return { status: res.status, json: (await res.json()) as { attachment: Att; error?: { code: string; message: string } } & Record<string, any>, headers: res.headers };
}

const get = (s: Session | null, path: string, headers: Record<string, string> = {}) =>
  fetch(users.baseUrl + path, { headers: { ...(s ? { authorization: `Bearer ${s.token}` } : {}), ...headers } });

/** Every file under FILES_DIR (directories aside: a refused upload may leave its shard's). */
const storedFiles = () =>
  readdirSync(join(dir, 'files'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();

const fileUrl = (room: string, id: string, variant = '') => `/api/rooms/${enc(room)}/attachments/${id}${variant ? `?variant=${variant}` : ''}`;

const png = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 30, b: 90 } } }).png().toBuffer();
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-files-'));
  const common = {
    REDIS_URL: redis.url, JWT_SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'warn', PARTITIONS: '2',
    SQLITE_PATH: join(dir, 'aurora.db'), FILES_DIR: join(dir, 'files'),
    ATTACHMENT_MAX_BYTES: String(MAX_BYTES), ATTACHMENT_QUOTA_BYTES: '2000000', ATTACHMENT_UPLOADS_PER_MIN: '15',
  };
  users = await startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000' });
  chat = await startService('chat', { ...common, REPLICA_ID: 'chat-a', HANDSHAKE_MAX_PER_USER: '100000', HANDSHAKE_MAX_PER_IP: '100000', SHUTDOWN_DRAIN_MS: '200' }, { waitReady: true });
  worker = await startService('ingestion', { ...common, INGEST_CONSUMER: 'w1', INGEST_BATCH_MS: '20' });
}, 90_000);

afterAll(async () => {
  await Promise.all([users, chat, worker].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('attachments', { timeout: 60_000 }, () => {
  it('an image and a PDF: uploaded, sent, live to members with their metadata, stored in history, served with safe headers, ranges and signed links', async () => {
    const ann = await signUp('ann');
    const ben = await signUp('ben');
    const cat = await signUp('cat');
    const created = await api('POST', '/api/rooms', { kind: 'private', title: 'Files', members: [ben.user.id] }, ann.token);
    expect(created.status).toBe(201);
    const room: string = created.json.room.name;

    const image = await upload(ann, room, 'photo.png', await png(800, 600));
    expect(image.status).toBe(201);
    expect(image.json.attachment).toMatchObject({ name: 'photo.png', type: 'image/png', width: 800, height: 600, thumb: true });
    // The client's claim of a type counts for nothing: a PDF named .png is a PDF.
    const pdf = await upload(ann, room, 'report.png', PDF, { 'content-type': 'image/png' });
    expect(pdf.status).toBe(201);
    expect(pdf.json.attachment).toMatchObject({ name: 'report.png', type: 'application/pdf', size: PDF.length });
    expect(pdf.json.attachment.thumb).toBeUndefined();

    // Not sent yet: the uploader alone may read it.
    expect((await get(ann, fileUrl(room, image.json.attachment.id))).status).toBe(200);
    expect((await get(ben, fileUrl(room, image.json.attachment.id))).status).toBe(404);

    const anns = await connect(ann);
    const bens = await connect(ben);
    await anns.join(room);
    await bens.join(room);
    const ids = [image.json.attachment.id, pdf.json.attachment.id];
    const ack = await anns.request({ type: 'send', room, text: '', cid: 'files-1', attachments: ids });
    expect(ack.type).toBe('ack');
    const live = await bens.next('message', (f) => f.cid === 'files-1');
    expect(live.attachments).toEqual([image.json.attachment, pdf.json.attachment]);
    // Sent: members read it at once, before ingestion has stored the message.
    const full = await get(ben, fileUrl(room, ids[0]!));
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('image/png');
    expect(full.headers.get('content-disposition')).toMatch(/^inline; filename="?photo.png"?$/);
    expect(full.headers.get('x-content-type-options')).toBe('nosniff');
    expect(full.headers.get('content-security-policy')).toContain('sandbox');
    const served = Buffer.from(await full.arrayBuffer());
    expect((await sharp(served).metadata()).width).toBe(800);
    const thumb = await get(ben, fileUrl(room, ids[0]!, 'thumb'));
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(320);

    const doc = await get(ben, fileUrl(room, ids[1]!));
    expect(doc.headers.get('content-type')).toBe('application/pdf');
    expect(doc.headers.get('content-disposition')).toMatch(/^attachment; filename="?report.png"?$/);
    // Ranges: a slice, the last bytes, and one outside the file.
    const slice = await get(ben, fileUrl(room, ids[1]!), { range: 'bytes=0-7' });
    expect(slice.status).toBe(206);
    expect(slice.headers.get('content-range')).toBe(`bytes 0-7/${PDF.length}`);
    expect(Buffer.from(await slice.arrayBuffer()).toString()).toBe('%PDF-1.4');
    const tail = await get(ben, fileUrl(room, ids[1]!), { range: 'bytes=-6' });
    expect(Buffer.from(await tail.arrayBuffer()).toString()).toBe('%%EOF\n');
    const outside = await get(ben, fileUrl(room, ids[1]!), { range: `bytes=${PDF.length + 10}-` });
    expect(outside.status).toBe(416);

    // Not a member of the private room: nothing, and no link either.
    expect((await get(cat, fileUrl(room, ids[0]!))).status).toBe(404);
    expect((await get(cat, `${fileUrl(room, ids[0]!)}/link`)).status).toBe(404);
    expect((await get(null, fileUrl(room, ids[0]!))).status).toBe(401);

    // A signed link opens that one file variant without a token; altered, it opens nothing.
    const link = (await (await get(ben, `${fileUrl(room, ids[0]!)}/link?variant=thumb`)).json()) as { url: string; expiresAt: number };
    expect(link.expiresAt).toBeGreaterThan(Date.now());
    expect(link.url).not.toContain(ben.token);
    const viaLink = await get(null, link.url);
    expect(viaLink.status).toBe(200);
    expect(viaLink.headers.get('content-type')).toBe('image/webp');
    expect((await get(null, link.url.replace('v=thumb', 'v=file'))).status).toBe(403);
    expect((await get(null, link.url.replace(ids[0]!, ids[1]!))).status).toBe(403);

    // Stored with the message: history carries the attachments.
    const page = await waitFor(async () => {
      const r = await api('GET', `/api/rooms/${enc(room)}/messages`, undefined, ben.token);
      return r.json.messages.find((m: { cid: string }) => m.cid === 'files-1');
    }, { timeoutMs: 15_000, what: 'the message in history' });
    expect(page.attachments).toEqual([image.json.attachment, pdf.json.attachment]);

    // An upload goes in one message.
    const again = await anns.request({ type: 'send', room, text: 'again', cid: 'files-2', attachments: [ids[0]] });
    expect(again).toMatchObject({ type: 'error', code: 'bad_attachment' });

    // Deleting the message hides its files, the signed link included.
    const del = await anns.request({ type: 'delete', room, id: ack.id, cid: 'del-1' });
    expect(del.type).toBe('ack');
    await waitFor(async () => ((await get(ben, fileUrl(room, ids[0]!))).status === 404 ? true : undefined), { timeoutMs: 15_000, what: 'the file hidden' });
    expect((await get(ann, fileUrl(room, ids[1]!))).status).toBe(404);
    expect((await get(null, link.url)).status).toBe(404);
    await Promise.all([anns.close(), bens.close()]);
  });

  it('an HTML file is text/plain, downloaded and never rendered; unknown binaries, empty and oversized bodies are refused with clear errors and leave nothing', async () => {
    const dan = await signUp('dan');
    const html = await upload(dan, 'general', 'page.html', Buffer.from('<!doctype html><script>alert(1)</script><h1>hi</h1>'));
    expect(html.status).toBe(201);
    expect(html.json.attachment.type).toBe('text/plain');
    const served = await get(dan, fileUrl('general', html.json.attachment.id));
    expect(served.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(served.headers.get('content-disposition')).toMatch(/^attachment; filename="?page.html"?$/);
    const svg = await upload(dan, 'general', 'x.svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'));
    expect(svg.json.attachment.type).toBe('text/plain');

    const before = storedFiles();
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(200)]);
    const refusedType = await upload(dan, 'general', 'tool', elf);
    expect(refusedType.status).toBe(415);
    expect(refusedType.json.error?.code).toBe('unsupported_media_type');
    const empty = await upload(dan, 'general', 'nothing.txt', Buffer.alloc(0));
    expect(empty.status).toBe(400);
    const big = await upload(dan, 'general', 'big.txt', Buffer.alloc(MAX_BYTES + 1, 'a'));
    expect(big.status).toBe(413);
    expect(big.json.error?.code).toBe('payload_too_large');
    // Without a Content-Length the limit is counted while streaming.
    const chunks = new ReadableStream({
      start(ctl) {
        for (let i = 0; i < 10; i++) ctl.enqueue(new Uint8Array(MAX_BYTES / 5).fill(97));
        ctl.close();
      },
    });
    const streamed = await fetch(`${users.baseUrl}/api/rooms/general/attachments?name=s.txt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dan.token}` },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(storedFiles()).toEqual(before);
    expect((await upload(dan, newMembersOnlyRoom('private'), 'a.txt', Buffer.from('x'))).status).toBe(404);
  });

  it('the per-minute upload limit and the quota answer 429 with a reason', async () => {
    const eve = await signUp('eve');
    let status = 0;
    let code = '';
    // 2,000,000 bytes of quota, 280 kB a file: the quota (7 files) comes before the per-minute limit (15).
    for (let i = 0; i < 10 && status !== 429; i++) {
      const r = await upload(eve, 'general', `f${i}.txt`, Buffer.alloc(280_000, 'b'));
      status = r.status;
      code = r.json.error?.code ?? '';
    }
    expect(status).toBe(429);
    expect(code).toBe('quota_exceeded');
    const fay = await signUp('fay');
    for (let i = 0; i < 16; i++) {
      const r = await upload(fay, 'general', `g${i}.txt`, Buffer.from('small'));
      code = r.json.error?.code ?? '';
      if (r.status === 429) break;
    }
    expect(code).toBe('too_many_requests');
  });
});
