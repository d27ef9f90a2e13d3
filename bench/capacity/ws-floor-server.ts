// The floor for "RSS per idle authenticated connection": the least a node + `ws` server can hold
// an authenticated connection with — the replica's own handshake (http server, ws in noServer
// mode, the same subprotocol token check with the same JWT verification) and a `hello` frame,
// then nothing: no per-connection logger, timers, room maps, presence or Redis. The capacity
// benchmark measures it like a replica; the replica's figure minus this one is what
// AuroraChat's own per-connection state costs.
//
// GET /memory: its V8 heap figures (process.memoryUsage()) as JSON.
// Run: PORT=... JWT_SECRET=... node --import tsx bench/capacity/ws-floor-server.ts
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { SUBPROTOCOL, parseSubprotocols } from '../../services/chat/protocol.js';
import { verifyAccessToken } from '../../services/shared/tokens.js';

const PORT = Number(process.env.PORT ?? 8095);
const JWT_SECRET = process.env.JWT_SECRET ?? '';
const sockets = new Set<WebSocket>();

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  clientTracking: false,
  handleProtocols: (protocols: Set<string>) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
});

function forget(this: WebSocket): void {
  sockets.delete(this);
}

const server = createServer((req, res) => {
  if (req.url === '/memory') {
    // The same figures a replica's /metrics gives (nodejs_heap_size_*_bytes, nodejs_external_memory_bytes).
    const m = process.memoryUsage();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external }));
    return;
  }
  res.writeHead(req.url === '/healthz' ? 200 : 404).end();
});
server.on('upgrade', (req, socket, head) => {
  const offered = parseSubprotocols(req.headers['sec-websocket-protocol']);
  const verified = offered ? verifyAccessToken(JWT_SECRET, offered.token) : undefined;
  if (!verified?.ok) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    sockets.add(ws);
    ws.on('close', forget);
    ws.send(JSON.stringify({ type: 'hello', user: verified.user }));
  });
});
server.listen(PORT, '127.0.0.1');
