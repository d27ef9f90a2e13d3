import type { ConnectionOptions, ConnectionState, Connection, WebSocketClass, DeliveredJoined } from './connection.js';
import type { AckFrame, ErrorFrame, EventFrame, LeftFrame, MemberEventFrame, MessageFrame, RoomEventFrame, ServerFrame, UnchangedAckFrame } from './protocol.js';
import type { ChangeFrame } from './outbox.js';
import type { Rest, StorageLike, Session } from './rest.js';

export interface ClientInit {
  /** The users service's origin (REST, /config.json), e.g. 'http://localhost:4000'; '' in its own page. */
  base?: string;
  /** WebSocket URLs; default: /config.json's `wsUrls`. */
  urls?: string[] | null;
  /** Node 20: `import { WebSocket } from 'ws'`; browsers and Node 22 have a global one. */
  WebSocket?: WebSocketClass;
  wsOptions?: unknown;
  rest?: Rest | null;
  storage?: StorageLike;
  connection?: ConnectionOptions;
  ackTimeoutMs?: number;
}

export interface ClientEvents {
  message: MessageFrame;
  event: EventFrame | MemberEventFrame | RoomEventFrame;
  joined: DeliveredJoined;
  left: LeftFrame;
  error: ErrorFrame;
  state: ConnectionState;
  signedout: { reason: string };
  [type: string]: any;
}

export interface Client {
  readonly rest: Rest;
  readonly connection: Connection | null;
  readonly user: Session['user'] | null;
  on<K extends keyof ClientEvents>(event: K, fn: (payload: ClientEvents[K]) => void): () => void;
  register(username: string, password: string): Promise<unknown>;
  login(username: string, password: string): Promise<Session['user']>;
  connect(): Promise<ConnectionState>;
  join(room: string): Promise<DeliveredJoined>;
  leave(room: string): void;
  send(room: string, text: string, opts?: { replyTo?: string; attachments?: string[]; cid?: string }): Promise<AckFrame>;
  edit(room: string, id: string, text: string): Promise<AckFrame>;
  delete(room: string, id: string): Promise<AckFrame>;
  react(room: string, id: string, emoji: string, on?: boolean): Promise<AckFrame | UnchangedAckFrame>;
  typing(room: string, active?: boolean): boolean;
  read(room: string, id: string): boolean;
  status(status: 'online' | 'away'): boolean;
  pending(): ChangeFrame[];
  newestId(room: string): string | null;
  close(): void;
}

export declare function createClient(init?: ClientInit): Client;
export type { ServerFrame };
