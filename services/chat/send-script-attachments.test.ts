// send.lua with attachments against a real redis-server: only the sender's own unsent uploads of
// this room, each in one message, their registered metadata (never the client's) in the frame,
// the log and the ingest entry — and a log replay gives the live frame's bytes.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Attachment } from '../shared/attachments.js';
import { loadConfig } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import { parseIngestEntry } from '../shared/message.js';
import { registerUpload, uploadSent } from '../shared/uploads.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { logEntryFrame } from './frames.js';
import { parseClientFrame } from './protocol.js';
import { createSendScript, type SendScript } from './send-script.js';

let redis: TestRedis;
let r: Redis;
let sub: Redis;
let send: SendScript;
const keys = keysFor(4);
const config = loadConfig('chat', { PARTITIONS: '4' });
const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };
const png: Attachment = { id: 'a' + '1'.repeat(24), name: 'cat "one".png', type: 'image/png', size: 1234, width: 640, height: 480, thumb: true };
const pdf: Attachment = { id: 'a' + '2'.repeat(24), name: 'report.pdf', type: 'application/pdf', size: 99_000 };

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  sub = redis.client();
  send = createSendScript(r, keys, config);
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  await r.flushall();
});

describe('send.lua attachments', () => {
  it('carries the registered uploads into the frame, the log and the ingest entry, and a replay is byte-identical', async () => {
    const room = 'files';
    await registerUpload(r, keys, room, alice.id, png, 60);
    await registerUpload(r, keys, room, alice.id, pdf, 60);
    const published = new Promise<string>((resolve) => sub.on('smessage', (_c, payload: string) => resolve(payload)));
    await sub.ssubscribe(keys.roomChannel(room)); // a shard channel: send.lua SPUBLISHes
    const res = await send(room, alice, '', 'c1', undefined, [pdf.id, png.id]);
    expect(res.kind).toBe('ok');
    if (res.kind !== 'ok') return;
    const live = await published;
    expect(JSON.parse(live)).toEqual({ type: 'message', room, user: alice, text: '', cid: 'c1', attachments: [pdf, png], seq: 1, id: res.id, ts: res.ts });
    const [logged] = (await r.xrange(keys.roomLog(room), '-', '+')) as [string, string[]][];
    expect(logEntryFrame(room, logged![0], logged![1]).json).toBe(live);
    const [queued] = (await r.xrange(keys.ingestStreamOfRoom(room), '-', '+')) as [string, string[]][];
    expect(parseIngestEntry(queued![1])).toMatchObject({ id: res.id, attachments: [pdf, png] });
    // Each upload goes in one message, and readers can tell it was sent.
    expect(await r.hgetall(keys.roomUploads(room))).toEqual({ [png.id]: `~${res.id}`, [pdf.id]: `~${res.id}` });
    expect(await uploadSent(r, keys, room, png.id)).toBe(true);
    await sub.sunsubscribe();
  });

  it("refuses another user's upload, another room's, an unknown or an already sent one — writing nothing", async () => {
    const room = 'files';
    await registerUpload(r, keys, room, bob.id, png, 60);
    await registerUpload(r, keys, 'elsewhere', alice.id, pdf, 60);
    expect(await send(room, alice, 'hi', 'c1', undefined, [png.id])).toEqual({ kind: 'bad_attachment', id: png.id });
    expect(await send(room, alice, 'hi', 'c2', undefined, [pdf.id])).toEqual({ kind: 'bad_attachment', id: pdf.id });
    expect(await r.exists(keys.roomLog(room), keys.ingestStreamOfRoom(room), keys.sendIdempotency(room, alice.id, 'c1'))).toBe(0);
    // Bob's own upload is his to send, once; a retry with the same cid is the same message.
    const ok = await send(room, bob, 'mine', 'b1', undefined, [png.id]);
    expect(ok.kind).toBe('ok');
    expect(await send(room, bob, 'mine', 'b1', undefined, [png.id])).toMatchObject({ kind: 'duplicate' });
    expect(await send(room, bob, 'again', 'b2', undefined, [png.id])).toEqual({ kind: 'bad_attachment', id: png.id });
    expect(await r.xlen(keys.roomLog(room))).toBe(1);
  });

  it('a refusal after the check (rate limit) keeps the uploads sendable', async () => {
    const room = 'files';
    const tight = createSendScript(redis.client(), keys, loadConfig('chat', { PARTITIONS: '4', RATE_LIMIT_MESSAGES: '1', RATE_LIMIT_WINDOW_MS: '60000' }));
    expect((await tight(room, alice, 'first', 'c1')).kind).toBe('ok');
    await registerUpload(r, keys, room, alice.id, png, 60);
    expect((await tight(room, alice, '', 'c2', undefined, [png.id])).kind).toBe('rate_limited');
    expect(await uploadSent(r, keys, room, png.id)).toBe(false);
    expect(await r.hexists(keys.roomUploads(room), png.id)).toBe(1);
  });
});

describe('protocol: a send with attachments', () => {
  const frame = (o: object) => parseClientFrame(JSON.stringify({ type: 'send', room: 'r', cid: 'c', ...o }));
  it('takes files alone (text ""), but not whitespace-only text, and at most 10 unique upload ids', () => {
    expect(frame({ text: '', attachments: [png.id] })).toMatchObject({ ok: true, frame: { text: '', attachments: [png.id] } });
    expect(frame({ text: 'x', attachments: [] })).toEqual({ ok: true, frame: { type: 'send', room: 'r', cid: 'c', text: 'x' } });
    expect(frame({ text: '', attachments: [] })).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(frame({ text: '  ', attachments: [png.id] })).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(frame({ text: 'x', attachments: [png.id, png.id] })).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(frame({ text: 'x', attachments: ['../etc/passwd'] })).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(frame({ text: 'x', attachments: png.id })).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    const eleven = Array.from({ length: 11 }, (_, i) => 'a' + i.toString(16).padStart(24, '0'));
    expect(frame({ text: 'x', attachments: eleven })).toMatchObject({ ok: false, error: { code: 'bad_request' } });
  });
});
