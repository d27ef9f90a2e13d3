// The chat replica's Prometheus metrics (names are part of the ops contract: dashboards use them).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { socketWrites } from './wire.js';

export function createChatMetrics(registry: Registry, connectionCount: () => number, subscribedRooms: () => number) {
  return {
    connections: new Gauge({
      name: 'aurora_chat_connections',
      help: 'Open WebSocket connections on this replica',
      registers: [registry],
      collect() {
        this.set(connectionCount());
      },
    }),
    subscribedRooms: new Gauge({
      name: 'aurora_chat_subscribed_rooms',
      help: 'Room channels this replica is subscribed to (rooms with a local member)',
      registers: [registry],
      collect() {
        this.set(subscribedRooms());
      },
    }),
    framesIn: new Counter({ name: 'aurora_chat_frames_in_total', help: 'Client frames received, by type', labelNames: ['type'], registers: [registry] }),
    framesOut: new Counter({ name: 'aurora_chat_frames_out_total', help: 'Frames written to sockets', registers: [registry] }),
    // frames_out / socket_writes = frames per write: how much WRITE_DELAY_MS batching saves.
    socketWrites: new Counter({
      name: 'aurora_chat_socket_writes_total',
      help: 'Batches of frames handed to the kernel (one write syscall each)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(socketWrites());
      },
    }),
    // Redis egress to this replica: grows with the rooms it has members in, not with all rooms.
    pubsubBytesIn: new Counter({ name: 'aurora_chat_pubsub_in_bytes_total', help: 'Payload bytes of room frames received from Redis pub/sub', registers: [registry] }),
    pubsubFramesIn: new Counter({ name: 'aurora_chat_pubsub_frames_in_total', help: 'Room frames received from Redis pub/sub', registers: [registry] }),
    fanoutLatency: new Histogram({
      name: 'aurora_chat_fanout_latency_seconds',
      help: 'From the send script accepting a message (its id time) to its fan-out to local sockets',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    rateLimited: new Counter({ name: 'aurora_chat_rate_limited_total', help: 'Sends refused by a rate limit: per user per room, the account-wide send budget or the new-room cap', registers: [registry] }),
    slowConsumerCloses: new Counter({ name: 'aurora_chat_slow_consumer_closes_total', help: 'Sockets closed with 4008 (send buffer over MAX_BUFFERED_BYTES)', registers: [registry] }),
    errors: new Counter({ name: 'aurora_chat_error_frames_total', help: 'Error frames sent, by code', labelNames: ['code'], registers: [registry] }),
    handshakeRejections: new Counter({ name: 'aurora_chat_handshake_rejections_total', help: 'Upgrades refused, by HTTP status', labelNames: ['status'], registers: [registry] }),
  };
}

export type ChatMetrics = ReturnType<typeof createChatMetrics>;
