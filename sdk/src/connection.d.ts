import type { ClientFrame, ServerFrame, JoinedFrame, ErrorFrame } from './protocol.js';
import type { HistoryPage } from './rest.js';

export type ConnectionStateName = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stopped';
export interface ConnectionState {
  state: ConnectionStateName;
  attempt: number;
  replica: string | null;
  url?: string;
  retryInMs?: number;
  retryAt?: number;
  /** With `reconnecting`: the close code of the socket that ended (0 when it never opened or was abandoned). */
  closeCode?: number;
}

/** A `joined` as handed on: `gap` true when messages between `since` and these could not be recovered. */
export type DeliveredJoined = JoinedFrame & { gap: boolean; stale?: true };
/** A refused join (`forbidden`): the room is dropped from the rejoin set. */
export type JoinRefusal = ErrorFrame & { room: string; joinRefused: true };

export interface ConnectionAuth {
  readonly token: string | null;
  /** ms since epoch */
  readonly tokenExpiresAt: number;
  /** A fresh access token (rejects with status 401/403 when signed out for good). */
  refresh(): Promise<string>;
}

export interface ConnectionOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  helloTimeoutMs?: number;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  stableAfterMs?: number;
  penaltyDelayMs?: number;
  gapFillPages?: number;
  gapFillPageSize?: number;
}

/** The WebSocket class: the browser's, Node 22's global, or `ws`'s (Node 20). */
export type WebSocketClass = new (url: string, protocols: string[], options?: any) => any;

export interface ConnectionInit {
  urls: string[];
  auth: ConnectionAuth;
  history?: ((room: string, opts: { before?: string; limit?: number }) => Promise<HistoryPage>) | null;
  sinceFor: (room: string) => string | null;
  onFrame: (frame: Exclude<ServerFrame, JoinedFrame> | DeliveredJoined | JoinRefusal) => void;
  onState?: (state: ConnectionState) => void;
  deferRejoin?: (room: string) => boolean;
  WebSocket?: WebSocketClass;
  /** Third constructor argument (ws in Node: `{ headers: { origin } }`). */
  wsOptions?: unknown;
  wakeSignals?: ((wake: () => void, probe: () => void) => () => void) | null;
  options?: ConnectionOptions;
}

export declare class Connection {
  constructor(init: ConnectionInit);
  readonly rooms: Set<string>;
  readonly replica: string | null;
  readonly state: ConnectionStateName;
  readonly connected: boolean;
  start(): void;
  stop(): void;
  /** Writes a frame now; false when not connected. */
  send(frame: ClientFrame): boolean;
  join(room: string, opts?: { defer?: boolean }): void;
  joinDeferred(): void;
  leave(room: string): void;
  forget(room: string): void;
  reconnectNow(): void;
  wake(): void;
  probe(): void;
}
