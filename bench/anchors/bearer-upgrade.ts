// The handshake both protocol-v1 anchors (seed-server.ts, wsfloor-server.ts) accept: subprotocols
// `aurora.v1` + `bearer.<JWT>`, the JWT verified at the upgrade with the replicas' own call.
import type { Server } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import type { ChatUser } from '../../services/shared/message.js';
import { verifyAccessToken } from '../../services/shared/tokens.js';

export function acceptBearerUpgrades(http: Server, wss: WebSocketServer, secret: string, onConnection: (ws: WebSocket, user: ChatUser) => void): void {
  http.on('upgrade', (req, socket, head) => {
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const token = offered.find((p) => p.startsWith('bearer.'))?.slice('bearer.'.length);
    const v = token ? verifyAccessToken(secret, token) : { ok: false as const };
    if (!v.ok || !offered.includes('aurora.v1')) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, v.user));
  });
}
