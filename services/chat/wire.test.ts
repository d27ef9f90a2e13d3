import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { waitFor } from '../../test/helpers/ports.js';
import { DEFAULT_WRITE_POLICY, SocketWriter, textFrame, textFramePayload, type WritePolicy } from './wire.js';

const FLUSH_AT_BYTES = DEFAULT_WRITE_POLICY.maxBytes;

let wss: WebSocketServer | undefined;
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  wss = undefined;
});

/** A real ws server (deflate off, as the chat server) and a real client; returns both ends. */
async function pair(): Promise<{ server: WebSocket; client: WebSocket; got: string[] }> {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await once(wss, 'listening');
  return pairOnSameServer();
}

/** Another client connection to the server pair() started. */
async function pairOnSameServer(): Promise<{ server: WebSocket; client: WebSocket; got: string[] }> {
  if (!wss) throw new Error('pair() first');
  const port = (wss.address() as AddressInfo).port;
  const accepted = once(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { maxPayload: 1 << 20 });
  clients.push(client);
  const got: string[] = [];
  client.on('message', (data, isBinary) => {
    expect(isBinary).toBe(false);
    got.push(data.toString());
  });
  const [server] = (await accepted) as [WebSocket];
  await once(client, 'open');
  return { server, client, got };
}

/** Counts the writes (syscalls: _write or _writev) the server end hands its TCP socket. */
function countWrites(server: WebSocket): { count: number } {
  const socket = (server as unknown as { _socket: { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void } })._socket;
  const writes = { count: 0 };
  for (const m of ['_write', '_writev'] as const) {
    const original = socket[m].bind(socket);
    socket[m] = (...a: unknown[]) => {
      writes.count++;
      original(...a);
    };
  }
  return writes;
}

const turn = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const frame = (text: string) => textFrame(Buffer.from(text));

describe('pre-framed, coalesced socket writes', () => {
  it('frames every payload length class (7-bit, 16-bit, 64-bit) so a real ws client decodes the exact text', async () => {
    const { server, got } = await pair();
    const out = new SocketWriter(server);
    const texts = [0, 1, 125, 126, 127, 65_535, 65_536, 70_001].map((n) => 'x'.repeat(n));
    texts.push('héllo 👋 ‮ \u0000 end');
    for (const t of texts) {
      out.write(textFrame(Buffer.from(t)));
      await new Promise((r) => setImmediate(r)); // one write per frame
    }
    await waitFor(() => got.length === texts.length, { what: 'every frame' });
    expect(got).toEqual(texts);
  });

  it('hands the frames queued in one event-loop turn to the kernel in ONE write, in order, without copying them', async () => {
    const { server, got } = await pair();
    const out = new SocketWriter(server);
    const writes = countWrites(server);
    const frames = Array.from({ length: 50 }, (_, i) => textFrame(Buffer.from(`m${i}`)));
    for (const f of frames) out.write(f);
    expect(out.queuedBytes).toBe(frames.reduce((n, f) => n + f.length, 0));
    await waitFor(() => got.length === 50, { what: '50 frames' });
    expect(writes.count).toBe(1);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });

  it('writes a burst early once FLUSH_AT_BYTES are queued, so ws.bufferedAmount (the slow-consumer check) sees it grow', async () => {
    const { server, client, got } = await pair();
    (client as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const out = new SocketWriter(server);
    const frame = textFrame(Buffer.from('b'.repeat(10_000)));
    let maxQueued = 0;
    for (let i = 0; i < 500; i++) {
      out.write(frame); // the same Buffer 500 times: 5 MB in one turn
      maxQueued = Math.max(maxQueued, out.queuedBytes);
    }
    expect(maxQueued).toBeLessThan(FLUSH_AT_BYTES + frame.length);
    // the kernel did not take 5 MB from a reader that does not read: ws holds the rest
    expect(server.bufferedAmount).toBeGreaterThan(1_000_000);
    (client as unknown as { _socket: { resume(): void } })._socket.resume();
    await waitFor(() => got.length === 500, { what: '500 frames', timeoutMs: 20_000 });
  });

  it('a write that throws terminates that socket only: other sockets queued in the same turn still get their frames', async () => {
    const a = await pair();
    const b = await pairOnSameServer();
    const errors: unknown[] = [];
    const outA = new SocketWriter(a.server, (err) => errors.push(err));
    const outB = new SocketWriter(b.server);
    (a.server as unknown as { _sender: { sendFrame: () => void } })._sender.sendFrame = () => {
      throw new Error('boom');
    };
    outA.write(textFrame(Buffer.from('to a')));
    outB.write(textFrame(Buffer.from('to b')));
    const [code] = (await once(a.client, 'close')) as [number];
    expect(code).toBe(1006);
    expect(errors).toHaveLength(1);
    await waitFor(() => b.got.length === 1, { what: 'the frame to b' });
    expect(b.got).toEqual(['to b']);
    // and later turns still flush
    outB.write(textFrame(Buffer.from('again')));
    await waitFor(() => b.got.length === 2, { what: 'a later frame to b' });
  });

  it('flush() before a close sends the queued frames ahead of the close frame; a closed socket takes nothing', async () => {
    const { server, client, got } = await pair();
    const out = new SocketWriter(server);
    out.write(textFrame(Buffer.from('last words')));
    out.flush();
    server.close(4008, 'bye');
    const [code] = (await once(client, 'close')) as [number];
    expect(code).toBe(4008);
    expect(got).toEqual(['last words']);
    out.write(textFrame(Buffer.from('after close')));
    out.flush(); // must not throw on a closed socket
    expect(got).toEqual(['last words']);
  });

  it('textFramePayload returns what textFrame wrapped', () => {
    for (const n of [0, 125, 126, 65_536]) {
      const p = Buffer.from('y'.repeat(n));
      expect(textFramePayload(textFrame(p)).equals(p)).toBe(true);
    }
  });
});

describe('the write window (WRITE_DELAY_MS): broadcast frames after a write wait and leave together', () => {
  const policy: WritePolicy = { delayMs: 200, maxBytes: 64 * 1024, maxFrames: 64 };

  it('the first frame after quiet leaves at the end of its turn; the next ones wait for the window and leave in ONE write, in order', async () => {
    const { server, got } = await pair();
    const writes = countWrites(server);
    const out = new SocketWriter(server, undefined, policy);
    out.write(frame('first'), true);
    await turn();
    expect(writes.count).toBe(1); // not delayed: nothing was written before it
    const queuedAt = performance.now();
    for (const t of ['b', 'c', 'd']) {
      out.write(frame(t), true);
      await turn();
    }
    expect(writes.count).toBe(1); // inside the window: waiting
    expect(out.queuedBytes).toBeGreaterThan(0);
    await waitFor(() => got.length === 4, { what: 'the delayed frames' });
    const waited = performance.now() - queuedAt;
    expect(writes.count).toBe(2);
    expect(got).toEqual(['first', 'b', 'c', 'd']);
    expect(waited).toBeGreaterThanOrEqual(policy.delayMs - 5); // held for the window...
    expect(waited).toBeLessThan(policy.delayMs * 3); // ...and not much longer
  });

  it('a frame that answers the client (not broadcast) ends the wait: it and the frames queued before it leave at the end of the turn, in order', async () => {
    const { server, got } = await pair();
    const writes = countWrites(server);
    const out = new SocketWriter(server, undefined, policy);
    out.write(frame('opens the window'), true);
    await turn();
    out.write(frame('fan-out 1'), true);
    out.write(frame('fan-out 2'), true);
    await turn();
    expect(writes.count).toBe(1);
    const t0 = performance.now();
    out.write(frame('ack'));
    await waitFor(() => got.length === 4, { what: 'the queued frames with the ack' });
    expect(performance.now() - t0).toBeLessThan(policy.delayMs / 2);
    expect(writes.count).toBe(2);
    expect(got).toEqual(['opens the window', 'fan-out 1', 'fan-out 2', 'ack']);
  });

  it('a socket quiet for longer than the window writes its next frame at once again', async () => {
    const quick: WritePolicy = { delayMs: 30, maxBytes: 64 * 1024, maxFrames: 64 };
    const { server, got } = await pair();
    const writes = countWrites(server);
    const out = new SocketWriter(server, undefined, quick);
    out.write(frame('one'), true);
    await turn();
    await sleep(quick.delayMs + 20);
    out.write(frame('two'), true);
    await turn();
    expect(writes.count).toBe(2);
    await waitFor(() => got.length === 2, { what: 'both frames' });
  });

  it('a window that queues WRITE_MAX_BYTES writes at once instead of waiting', async () => {
    const capped: WritePolicy = { delayMs: 10_000, maxBytes: 4096, maxFrames: 64 };
    const { server, got } = await pair();
    const writes = countWrites(server);
    const out = new SocketWriter(server, undefined, capped);
    out.write(frame('open'), true);
    await turn();
    const big = frame('z'.repeat(1500));
    for (let i = 0; i < 3; i++) out.write(big, true); // 4.5 KB > the cap
    expect(writes.count).toBe(2);
    expect(out.queuedBytes).toBe(0);
    await waitFor(() => got.length === 4, { what: 'the capped batch' });
  });

  it('a window that gathered WRITE_MAX_FRAMES frames leaves at the end of the turn instead of at the timer', async () => {
    const pairs: WritePolicy = { delayMs: 10_000, maxBytes: 64 * 1024, maxFrames: 2 };
    const { server, got } = await pair();
    const writes = countWrites(server);
    const out = new SocketWriter(server, undefined, pairs);
    out.write(frame('open'), true);
    await turn();
    out.write(frame('w1'), true);
    await turn();
    expect(writes.count).toBe(1); // one waiting: it waits for company
    out.write(frame('w2'), true);
    await waitFor(() => got.length === 3, { what: 'the pair', timeoutMs: 2000 });
    expect(writes.count).toBe(2);
    expect(got).toEqual(['open', 'w1', 'w2']);
  });

  it('flush() (before a close frame) writes the frames waiting in the window; the timer then finds nothing to write', async () => {
    const { server, client, got } = await pair();
    const out = new SocketWriter(server, undefined, policy);
    out.write(frame('open'), true);
    await turn();
    out.write(frame('waiting'), true);
    await turn();
    out.flush();
    server.close(1001, 'going away');
    const [code] = (await once(client, 'close')) as [number];
    expect(code).toBe(1001);
    expect(got).toEqual(['open', 'waiting']);
    await sleep(policy.delayMs + 20); // the shared timer fires on a closed socket: no throw, nothing more
    expect(got).toEqual(['open', 'waiting']);
  });

  it('every socket with waiting frames leaves on the same timer, each in one write', async () => {
    const a = await pair();
    const b = await pairOnSameServer();
    const wa = countWrites(a.server);
    const wb = countWrites(b.server);
    const outA = new SocketWriter(a.server, undefined, policy);
    const outB = new SocketWriter(b.server, undefined, policy);
    for (const out of [outA, outB]) out.write(frame('m0'), true);
    await turn();
    for (let i = 1; i <= 5; i++) {
      for (const out of [outA, outB]) out.write(frame(`m${i}`), true);
      await turn();
    }
    await waitFor(() => a.got.length === 6 && b.got.length === 6, { what: 'both sockets' });
    expect([wa.count, wb.count]).toEqual([2, 2]);
    expect(a.got).toEqual(b.got);
  });
});
