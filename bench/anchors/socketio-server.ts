// The Socket.IO anchor for the fan-out benchmark (issue 7): what a team would reach for by
// default to do AuroraChat's live job — Socket.IO 4.8 with @socket.io/redis-adapter over ioredis
// pub/sub so that N server processes share rooms.
//
// Why it is a fair anchor: it does the same work per message that AuroraChat's replica must do
// for the live path — authenticate every connection by verifying the same HS256 JWT with
// jsonwebtoken (services/shared/tokens.ts), join rooms, and broadcast one message object of the
// same shape ({id, room, user:{id,name}, text, ts, cid}) to every member of a room on every
// server through Redis, acking the sender. It runs with the settings a performance-minded
// deployment would use (WebSocket transport only, no long-polling upgrade dance, no
// per-message deflate), so the comparison is against Socket.IO at its best. It does LESS than
// AuroraChat: no rate limit, no idempotency, no room log, no ingest stream — so any CPU
// AuroraChat saves is saved despite doing more.
//
// Run: PORT=... REDIS_URL=... JWT_SECRET=... node --import tsx bench/anchors/socketio-server.ts
// GET /healthz answers 200 "ok" once Redis pub/sub is connected.
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { verifyAccessToken } from '../../services/shared/tokens.js';

const PORT = Number(process.env.PORT ?? 8090);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const JWT_SECRET = process.env.JWT_SECRET;
if (!JWT_SECRET) {
  process.stderr.write('JWT_SECRET is required\n');
  process.exit(2);
}

const pub = new Redis(REDIS_URL);
const sub = pub.duplicate();
for (const c of [pub, sub]) c.on('error', (err) => process.stderr.write(`redis: ${String(err)}\n`));

const http = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  // Socket.IO answers its own path (/socket.io/); everything else is 404.
  if (!req.url?.startsWith('/socket.io/')) res.writeHead(404).end();
});

const io = new Server(http, {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  adapter: createAdapter(pub, sub),
});

interface User {
  id: string;
  name: string;
}

io.use((socket, next) => {
  const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  const v = typeof token === 'string' ? verifyAccessToken(JWT_SECRET, token) : { ok: false as const };
  if (!v.ok) {
    next(new Error('unauthorized'));
    return;
  }
  socket.data.user = v.user;
  next();
});

let seq = 0;
io.on('connection', (socket) => {
  const user = socket.data.user as User;
  socket.on('join', (room: unknown, ack?: unknown) => {
    if (typeof room !== 'string') return;
    void socket.join(room);
    if (typeof ack === 'function') ack({ room });
  });
  socket.on('send', (p: { room?: unknown; text?: unknown; cid?: unknown } | undefined, ack?: unknown) => {
    if (!p || typeof p.room !== 'string' || typeof p.text !== 'string' || typeof p.cid !== 'string') return;
    const ts = Date.now();
    const id = `${ts}-${seq++}`;
    io.to(p.room).emit('message', { id, room: p.room, user: { id: user.id, name: user.name }, text: p.text, ts, cid: p.cid });
    if (typeof ack === 'function') ack({ id });
  });
});

await Promise.all([pub.ping(), sub.ping()]);
http.listen(PORT, '127.0.0.1');

const stop = () => {
  io.close();
  pub.disconnect();
  sub.disconnect();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
