// The chat replica: a node http server serving /healthz /readyz /metrics, and `ws` in noServer
// mode on /ws. Authentication happens in the 'upgrade' handler, before any socket state exists
// (ws README, "Client authentication"): the JWT travels as the subprotocol `bearer.<JWT>` next
// to `aurora.v1`; a bad origin gets 403, a missing/invalid/expired token 401, a full replica
// 503 and a user over MAX_CONNECTIONS_PER_USER 429 — then the socket is destroyed.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { ChatUser } from '../shared/message.js';
import { createMetricsRegistry, handleOps, type Ops } from '../shared/ops.js';
import { closeRedis, createRedis } from '../shared/redis.js';
import type { ShutdownStep } from '../shared/lifecycle.js';
import { verifyAccessToken } from '../shared/tokens.js';
import { Connection } from './connection.js';
import { Fanout } from './fanout.js';
import { createChatMetrics } from './metrics.js';
import { Presence } from './presence.js';
import { PubSubProbe } from './probe.js';
import { CloseCode, SUBPROTOCOL, parseSubprotocols } from './protocol.js';
import { createSendScript } from './send-script.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

function reject(socket: Duplex, status: number, message: string): void {
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
    );
  }
  socket.destroy();
}

export interface ChatServer {
  server: Server;
  /** Steps for onShutdown, in order: drain sockets, stop loops, close http, quit Redis. */
  shutdownSteps(): ShutdownStep[];
}

export function createChatServer(config: Config, log: Logger): ChatServer {
  const keys = keysFor(config.PARTITIONS);
  const redis = createRedis(config.REDIS_URL, log, { role: 'main' });
  // The subscriber: no ready check (INFO) and no CLIENT SETINFO in the connect handshake — in
  // ioredis 5 a SUBSCRIBE written before the handshake finished turns those into "Connection in
  // subscriber mode" failures and a reset that forgets every subscription (ioredis #2037).
  // Fanout re-subscribes everything itself on every 'ready', so autoResubscribe is off.
  const sub = createRedis(config.REDIS_URL, log, {
    role: 'subscriber',
    blocking: true,
    extra: { enableReadyCheck: false, disableClientInfo: true, autoResubscribe: false },
  });
  const registry = createMetricsRegistry(config);
  const connections = new Set<Connection>();
  const perUser = new Map<string, number>();
  let draining = false;

  // The gauges read `fanout` only when scraped, after it exists.
  const metrics = createChatMetrics(registry, () => connections.size, () => fanout.subscribedCount());
  const fanout = new Fanout(sub, keys, log, metrics, config.replicaId, { redis, recoveryMax: config.RECOVERY_MAX });
  const presence = new Presence(redis, keys, log, config);
  const probe = new PubSubProbe(redis, fanout, keys, config.replicaId, log);
  const ctx = { config, log, keys, redis, fanout, presence, send: createSendScript(redis, keys, config), metrics };

  const ops: Ops = {
    registry,
    draining: () => draining,
    checks: [
      { name: 'redis', check: () => redis.ping() },
      { name: 'pubsub', check: () => probe.check() },
    ],
  };

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.MAX_PAYLOAD_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
    // Without this ws would select the FIRST offered subprotocol — possibly the token.
    handleProtocols: (protocols: Set<string>) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });

  const server = createServer((req, res) => {
    if (!handleOps(ops, req, res)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"not_found","message":"not found"}}');
    }
  });

  const refuse = (socket: Duplex, status: number, message: string, why: string) => {
    metrics.handshakeRejections.inc({ status: String(status) });
    log.debug({ status, why }, 'upgrade refused');
    reject(socket, status, message);
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/ws') return refuse(socket, 404, 'not found', 'path');
      if (draining) return refuse(socket, 503, 'shutting down', 'draining');
      // Browsers always send Origin; non-browser clients (no Origin) are allowed.
      const origin = req.headers.origin;
      if (origin !== undefined && !config.ALLOWED_ORIGINS.includes('*') && !config.ALLOWED_ORIGINS.includes(origin)) {
        return refuse(socket, 403, 'origin not allowed', 'origin');
      }
      const offered = parseSubprotocols(req.headers['sec-websocket-protocol']);
      if (!offered) return refuse(socket, 401, `offer subprotocols ${SUBPROTOCOL} and bearer.<token>`, 'no token');
      const verified = verifyAccessToken(config.JWT_SECRET, offered.token);
      if (!verified.ok) return refuse(socket, 401, `token ${verified.reason}`, verified.reason);
      if (connections.size >= config.MAX_CONNECTIONS) return refuse(socket, 503, 'replica full', 'max connections');
      if ((perUser.get(verified.user.id) ?? 0) >= config.MAX_CONNECTIONS_PER_USER) {
        return refuse(socket, 429, 'too many connections for this user', 'max per user');
      }
      wss.handleUpgrade(req, socket, head, (ws) => accept(ws, verified.user, verified.exp));
    } catch (err) {
      log.error({ err }, 'upgrade failed');
      reject(socket, 400, 'bad request');
    }
  });

  function accept(ws: WebSocket, user: ChatUser, exp: number): void {
    const conn = new Connection(ws, user, exp, ctx, (c) => {
      connections.delete(c);
      const n = (perUser.get(c.user.id) ?? 1) - 1;
      if (n <= 0) perUser.delete(c.user.id);
      else perUser.set(c.user.id, n);
    });
    connections.add(conn);
    perUser.set(user.id, (perUser.get(user.id) ?? 0) + 1);
    conn.start();
  }

  // Heartbeat (ws README, "How to detect and close broken connections").
  const heartbeat = setInterval(() => {
    for (const c of connections) {
      if (c.awaitingPong) {
        c.ws.terminate();
        continue;
      }
      c.awaitingPong = true;
      try {
        c.ws.ping();
      } catch {
        c.ws.terminate();
      }
    }
  }, config.HEARTBEAT_MS);
  heartbeat.unref();

  presence.start();
  probe.start();

  async function drain(): Promise<void> {
    draining = true;
    clearInterval(heartbeat);
    const all = [...connections];
    if (all.length === 0) return;
    log.info({ sockets: all.length, windowMs: config.SHUTDOWN_DRAIN_MS }, 'draining sockets with 1012');
    // Spread the closes so the clients' reconnects do not arrive on the other replicas at once.
    const step = all.length > 1 ? config.SHUTDOWN_DRAIN_MS / all.length : 0;
    await Promise.all(
      all.map(
        (c, i) =>
          new Promise<void>((resolve) => {
            setTimeout(() => {
              c.ws.once('close', () => resolve());
              c.close(CloseCode.SERVICE_RESTART, 'server restarting, reconnect');
              setTimeout(() => {
                c.ws.terminate();
                resolve();
              }, 2000).unref();
              if (c.closed) resolve();
            }, i * step);
          }),
      ),
    );
    // Let the per-socket presence leaves reach Redis before it is closed.
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    server,
    shutdownSteps: () => [
      ['drain websockets', drain],
      ['stop loops', () => {
        presence.stop();
        probe.stop();
      }],
      ['close http server', () => new Promise<void>((resolve) => server.close(() => resolve()))],
      ['close redis subscriber', () => closeRedis(sub)],
      ['close redis', () => closeRedis(redis)],
    ],
  };
}
