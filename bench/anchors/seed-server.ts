// The AuroraChat-seed design as a second reference for the fan-out benchmark (issue 7): the
// live path of the reference design (../shared/seeds/001_*, "Chat Service" + fanout.ts) kept
// to its essentials — plain `ws`, ONE `PSUBSCRIBE chat.*` per process, a client send becomes
// `PUBLISH chat.<room> <json>`, and on every pmessage the process parses the JSON and writes
// `JSON.stringify(msg)` to each local member of the room (re-serialising per recipient, as the
// issue describes the seed). Every process therefore receives every room's traffic, wanted or
// not, and pays one stringify per delivery.
//
// It speaks just enough of AuroraChat's protocol v1 for the same load generator to drive it:
// subprotocols `aurora.v1` + `bearer.<JWT>` (verified at the upgrade with the same
// jsonwebtoken call), `{"type":"join","room"}` → `{"type":"joined","room"}`,
// `{"type":"send","room","text","cid"}` → PUBLISH, then `{"type":"ack","cid","id"}`, and
// `{"type":"message",id,room,user,text,ts,cid}` to members. No rate limit, idempotency, room
// log or ingest stream: it does less work per send than AuroraChat.
//
// Run: PORT=... REDIS_URL=... JWT_SECRET=... node --import tsx bench/anchors/seed-server.ts
// GET /healthz answers 200 "ok".
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ChatUser } from '../../services/shared/message.js';
import { acceptBearerUpgrades } from './bearer-upgrade.js';

const PORT = Number(process.env.PORT ?? 8091);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const JWT_SECRET = process.env.JWT_SECRET;
if (!JWT_SECRET) {
  process.stderr.write('JWT_SECRET is required\n');
  process.exit(2);
}

const redis = new Redis(REDIS_URL);
const redisSub = redis.duplicate();
for (const c of [redis, redisSub]) c.on('error', (err) => process.stderr.write(`redis: ${String(err)}\n`));

/** Local members per room (the seed's rooms.ts). */
const rooms = new Map<string, Set<WebSocket>>();

const http = createServer((req, res) => {
  if (req.url === '/healthz') res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  else res.writeHead(404).end();
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => 'aurora.v1' });

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
    if (msg.type === 'join') {
      let set = rooms.get(msg.room);
      if (!set) rooms.set(msg.room, (set = new Set()));
      set.add(ws);
      joined.add(msg.room);
      ws.send(JSON.stringify({ type: 'joined', room: msg.room }));
    } else if (msg.type === 'send' && typeof msg.text === 'string' && typeof msg.cid === 'string') {
      const ts = Date.now();
      const id = `${ts}-${seq++}`;
      const out = { type: 'message', id, room: msg.room, user, text: msg.text, ts, cid: msg.cid };
      const cid = msg.cid;
      redis.publish(`chat.${msg.room}`, JSON.stringify(out)).then(
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

await redisSub.psubscribe('chat.*');
redisSub.on('pmessage', (_pattern: string, channel: string, message: string) => {
  const sockets = rooms.get(channel.slice('chat.'.length));
  if (!sockets) return;
  const msg: unknown = JSON.parse(message);
  for (const ws of sockets) {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  }
});
http.listen(PORT, '127.0.0.1');

const stop = () => {
  for (const ws of wss.clients) ws.terminate();
  redis.disconnect();
  redisSub.disconnect();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
