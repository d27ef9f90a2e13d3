import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { waitFor } from '../../test/helpers/ports.js';
import { SocketWriter, textFrame, textFramePayload } from './wire.js';

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

  it('hands the frames queued in one event-loop turn to the socket in ONE write, in order', async () => {
    const { server, got } = await pair();
    const out = new SocketWriter(server);
    const sender = (server as unknown as { _sender: { sendFrame: (...a: unknown[]) => void } })._sender;
    const original = sender.sendFrame.bind(sender);
    let writes = 0;
    sender.sendFrame = (...a: unknown[]) => {
      writes++;
      original(...a);
    };
    for (let i = 0; i < 50; i++) out.write(textFrame(Buffer.from(`m${i}`)));
    expect(out.queuedBytes).toBeGreaterThan(0);
    await waitFor(() => got.length === 50, { what: '50 frames' });
    expect(writes).toBe(1);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
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
