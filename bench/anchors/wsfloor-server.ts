// The floor for the fan-out benchmark (issue 21): the least a node + `ws` server does to fan a
// message out over Redis — what "one write per delivery" costs with nothing else around it.
// Per room a SUBSCRIBE (only rooms with a local member, as AuroraChat); a client send becomes
// PUBLISH of the finished `message` JSON and an ack; on every message the payload is turned into
// a Buffer ONCE and `ws.send(buffer)` goes to each local member — no parse, no per-recipient
// serialisation, no rate limit, idempotency, room log, ingest stream or membership check.
// AuroraChat with write batching off should sit near this; with batching on it should go below it.
//
// It speaks the subset of protocol v1 the seed anchor speaks (bench/anchors/seed-server.ts), so the
// same load generator drives it.
//
// Run: PORT=... REDIS_URL=... JWT_SECRET=... node --import tsx bench/anchors/wsfloor-server.ts
// GET /healthz answers 200 "ok".
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ChatUser } from '../../services/shared/message.js';
import { acceptBearerUpgrades } from './bearer-upgrade.js';

const PORT = Number(process.env.PORT ?? 8092);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const JWT_SECRET = process.env.JWT_SECRET;
if (!JWT_SECRET) {
  process.stderr.write('JWT_SECRET is required\n');
  process.exit(2);
}

const redis = new Redis(REDIS_URL);
const redisSub = redis.duplicate();
for (const c of [redis, redisSub]) c.on('error', (err) => process.stderr.write(`redis: ${String(err)}\n`));

const rooms = new Map<string, Set<WebSocket>>();
const channel = (room: string) => `floor.${room}`;

const http = createServer((req, res) => {
  if (req.url === '/healthz') res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  else res.writeHead(404).end();
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, handleProtocols: () => 'aurora.v1' });

acceptBearerUpgrades(http, wss, JWT_SECRET, onConnection);

let seq = 0;
function onConnection(ws: WebSocket, user: ChatUser): void {
  const joined = new Set<string>();
  ws.on('message', (raw) => {
    let msg: { type?: unknown; room?: unknown; text?: unknown; cid?: unknown };
    try {
      msg = JSON.parse(raw.toString());
    } catch {
      return;
    }
    if (typeof msg.room !== 'string') return;
    const room = msg.room;
    if (msg.type === 'join') {
      let set = rooms.get(room);
      const subscribed = set ? Promise.resolve() : redisSub.subscribe(channel(room)).then(() => undefined);
      if (!set) rooms.set(room, (set = new Set()));
      set.add(ws);
      joined.add(room);
      void subscribed.then(() => ws.send(JSON.stringify({ type: 'joined', room })));
    } else if (msg.type === 'send' && typeof msg.text === 'string' && typeof msg.cid === 'string') {
      const ts = Date.now();
      const id = `${ts}-${seq++}`;
      const cid = msg.cid;
      const out = JSON.stringify({ type: 'message', id, room, user, text: msg.text, ts, cid });
      redis.publish(channel(room), out).then(
        () => ws.send(JSON.stringify({ type: 'ack', cid, id, ts })),
        () => ws.send(JSON.stringify({ type: 'error', code: 'unavailable', ref: cid })),
      );
    }
  });
  ws.on('close', () => {
    for (const room of joined) rooms.get(room)?.delete(ws);
  });
  ws.on('error', () => {});
}

const TEXT = { binary: false };
redisSub.on('messageBuffer', (ch: Buffer, payload: Buffer) => {
  const sockets = rooms.get(ch.toString().slice('floor.'.length));
  if (!sockets) return;
  for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(payload, TEXT);
});
http.listen(PORT, '127.0.0.1');

const stop = () => {
  redis.disconnect();
  redisSub.disconnect();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
