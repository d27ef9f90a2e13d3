// The chat replica: a node http server serving /healthz, and `ws` in noServer mode on /ws
// (/readyz and /metrics: `ops`, served on ADMIN_PORT by main.ts). Authentication happens in the 'upgrade' handler, before any socket state exists
// (ws README, "Client authentication"): the JWT travels as the subprotocol `bearer.<JWT>` next
// to `aurora.v1`; a bad origin gets 403, a missing/invalid/expired token 401, a full replica
// 503 and a user over MAX_CONNECTIONS_PER_USER 429 — then the socket is destroyed. A user or
// client IP over its handshake budget (handshake-limits.ts, Redis) gets 429 with Retry-After,
// and 503 when Redis cannot count it.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { ChatUser } from '../shared/message.js';
import { createMetricsRegistry, handleLiveness, type Ops } from '../shared/ops.js';
import { closeRedis, createRedis } from '../shared/redis.js';
import type { ShutdownStep } from '../shared/lifecycle.js';
import { tokenScope, verifyAccessToken } from '../shared/tokens.js';
import { isSessionRevoked } from '../shared/sessions.js';
import { withTimeout } from '../shared/timeout.js';
import { Revocations } from './revocations.js';
import { UserChannels } from './user-channels.js';
import { createAutoMute } from './auto-mute.js';
import { createMemberScript } from '../shared/member-script.js';
import { warnIfTooFewReplicas } from '../shared/replica-ack.js';
import { Connection } from './connection.js';
import { Fanout } from './fanout.js';
import { createChatMetrics } from './metrics.js';
import { createRedisMemoryGauges } from './redis-memory.js';
import { Presence } from './presence.js';
import { PubSubProbe } from './probe.js';
import { CloseCode, SUBPROTOCOL, parseSubprotocols } from './protocol.js';
import { createEventScript } from './event-script.js';
import { createReadScript } from './read-script.js';
import { UserStatusTracker } from './user-status.js';
import { createSendScript } from './send-script.js';
import { createTypingScript } from './typing.js';
import { HANDSHAKE_BUDGET_TIMEOUT_MS, createHandshakeLimits } from './handshake-limits.js';
import { clientIp } from '../shared/fixed-window.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

function reject(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  if (socket.writable) {
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\n${extra}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
    );
  }
  socket.destroy();
}

export interface ChatServer {
  server: Server;
  /** For the admin listener (/readyz, /metrics): main.ts serves it on ADMIN_PORT. */
  ops: Ops;
  /** Steps for onShutdown, in order: drain sockets, stop loops, close http, quit Redis. */
  shutdownSteps(): ShutdownStep[];
}

export function createChatServer(config: Config, log: Logger): ChatServer {
  const keys = keysFor(config.PARTITIONS);
  const redis = createRedis(config, log, { role: 'main' });
  // The subscriber: no ready check (INFO) and no CLIENT SETINFO in the connect handshake — in
  // ioredis 5 a SUBSCRIBE written before the handshake finished turns those into "Connection in
  // subscriber mode" failures and a reset that forgets every subscription (ioredis #2037).
  // Fanout re-subscribes everything itself on every 'ready', so autoResubscribe is off. On a
  // Cluster room channels go through one sharded subscriber per master (fanout.ts).
  const sub = createRedis(config, log, {
    role: 'subscriber',
    blocking: true,
    shardedSubscriber: true,
    extra: { enableReadyCheck: false, disableClientInfo: true, autoResubscribe: false },
  });
  const registry = createMetricsRegistry(config);
  const connections = new Set<Connection>();
  const perUser = new Map<string, number>();
  let draining = false;

  // The gauges read `fanout` only when scraped, after it exists.
  const metrics = createChatMetrics(registry, () => connections.size, () => fanout.subscribedCount());
  // Redis memory for the maxmemory alert (k8s/base/60-alerts.yaml), read from INFO on scrape.
  createRedisMemoryGauges(registry, redis, log);
  const fanout = new Fanout(sub, keys, log, metrics, config.replicaId, {
    redis,
    recoveryMax: config.RECOVERY_MAX,
    recoveryMaxBytes: config.REPLY_MAX_BYTES,
    // frames published after their WAIT arrive out of id order by at most the WAIT's timeout
    lookbackMs: config.REDIS_ACK_REPLICAS > 0 ? config.REDIS_ACK_TIMEOUT_MS + 1000 : 0,
  });
  const presence = new Presence(redis, keys, log, config);
  const probe = new PubSubProbe(redis, fanout, keys, config.replicaId, log);
  const revocations = new Revocations(redis, keys, fanout, () => connections, log);
  const userChannels = new UserChannels(fanout, keys, log);
  const status = new UserStatusTracker(redis, keys, log, config);
  const member = createMemberScript(redis, keys, config);
  redis.once('ready', () => void warnIfTooFewReplicas(redis, config.REDIS_ACK_REPLICAS, log));
  const ctx = {
    config, log, keys, redis, fanout, presence, metrics,
    send: createSendScript(redis, keys, config),
    event: createEventScript(redis, keys, config),
    typing: createTypingScript(redis, keys, config),
    read: createReadScript(redis, keys, config),
    member,
    autoMute: createAutoMute(redis, keys, config, member, log),
    userChannels,
    status,
    recentlyRevoked: (sid: string | undefined) => revocations.recentlyRevoked(sid),
    writePolicy: { delayMs: config.WRITE_DELAY_MS, maxBytes: config.WRITE_MAX_BYTES, maxFrames: config.WRITE_MAX_FRAMES },
  };

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
    if (!handleLiveness(req, res)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"not_found","message":"not found"}}');
    }
  });

  const refuse = (socket: Duplex, status: number, message: string, why: string, headers?: Record<string, string>) => {
    metrics.handshakeRejections.inc({ status: String(status) });
    log.debug({ status, why }, 'upgrade refused');
    reject(socket, status, message, headers);
  };
  const handshakeBudget = createHandshakeLimits(redis, keys, config);
  let lastUncheckedWarning = 0;
  const warnUnchecked = () => {
    const now = Date.now();
    if (now - lastUncheckedWarning < 10_000) return;
    lastUncheckedWarning = now;
    log.warn({ redis: redis.status }, 'Redis is down: admitting handshakes unchecked (sessions re-checked when it is back)');
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
      const verified = verifyAccessToken(config.JWT_SECRET, offered.token, tokenScope(config));
      if (!verified.ok) return refuse(socket, 401, `token ${verified.reason}`, verified.reason);
      if (connections.size >= config.MAX_CONNECTIONS) return refuse(socket, 503, 'replica full', 'max connections');
      if ((perUser.get(verified.user.id) ?? 0) >= config.MAX_CONNECTIONS_PER_USER) {
        return refuse(socket, 429, 'too many connections for this user', 'max per user');
      }
      // A token of a revoked session (logout, refresh theft) is refused although it has not
      // expired; without Redis the check cannot be made (503, as the replica could not serve
      // the socket anyway).
      // Handshake budgets per user and per client IP (handshake-limits.ts: 429 + Retry-After, 503
      // without Redis), checked alongside the revocation; `budget` never rejects.
      if (redis.status !== 'ready') {
        // Redis is DOWN (not merely slow: that is the 503 below). The socket is inert until it
        // is back — joins, sends and typing all need Redis — so it is admitted, and a client
        // resuming during a Redis restart is connected the moment Redis returns instead of
        // backing off for up to 15 s. Nothing is given away: the handshake budget guards work
        // that needs Redis, and every local socket's session is re-checked against the revoked
        // set when the subscriber is back (revocations.ts).
        warnUnchecked();
        wss.handleUpgrade(req, socket, head, (ws) => accept(ws, verified.user, verified.exp, verified.sid));
        return;
      }
      const ip = clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], config.TRUST_PROXY);
      const budget = handshakeBudget(verified.user.id, ip);
      Promise.all([budget, withTimeout(isSessionRevoked(redis, keys, verified.sid), HANDSHAKE_BUDGET_TIMEOUT_MS)]).then(
        ([verdict, revoked]) => {
          if (socket.destroyed) return;
          if (!verdict.ok) {
            const headers = verdict.retryAfterSec ? { 'Retry-After': verdict.retryAfterSec } : undefined;
            return refuse(socket, verdict.status, verdict.message, verdict.why, headers);
          }
          if (revoked) return refuse(socket, 401, 'session ended', 'revoked');
          if (draining) return refuse(socket, 503, 'shutting down', 'draining');
          // Checked again: other handshakes of this user may have been accepted meanwhile.
          if (connections.size >= config.MAX_CONNECTIONS) return refuse(socket, 503, 'replica full', 'max connections');
          if ((perUser.get(verified.user.id) ?? 0) >= config.MAX_CONNECTIONS_PER_USER) {
            return refuse(socket, 429, 'too many connections for this user', 'max per user');
          }
          wss.handleUpgrade(req, socket, head, (ws) => accept(ws, verified.user, verified.exp, verified.sid));
        },
        () => refuse(socket, 503, 'try again shortly', 'redis'),
      ).catch((err: unknown) => {
        log.error({ err }, 'upgrade failed');
        reject(socket, 400, 'bad request');
      });
    } catch (err) {
      log.error({ err }, 'upgrade failed');
      reject(socket, 400, 'bad request');
    }
  });

  function accept(ws: WebSocket, user: ChatUser, exp: number, sid: string | undefined): void {
    const conn = new Connection(ws, user, exp, sid, ctx, (c) => {
      connections.delete(c);
      const n = (perUser.get(c.user.id) ?? 1) - 1;
      if (n <= 0) perUser.delete(c.user.id);
      else perUser.set(c.user.id, n);
    });
    connections.add(conn);
    perUser.set(user.id, (perUser.get(user.id) ?? 0) + 1);
    conn.start();
    // A revocation published between the handshake's check and this line found no socket to
    // close; the replica remembers it (revocations.ts).
    if (revocations.recentlyRevoked(sid)) conn.endSession();
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
  status.start();
  probe.start();
  revocations.start();

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
    ops,
    shutdownSteps: () => [
      ['drain websockets', drain],
      ['stop loops', () => {
        presence.stop();
        status.stop();
        probe.stop();
      }],
      ['close http server', () => new Promise<void>((resolve) => server.close(() => resolve()))],
      ['close redis subscriber', () => closeRedis(sub)],
      ['close redis', () => closeRedis(redis)],
    ],
  };
}
