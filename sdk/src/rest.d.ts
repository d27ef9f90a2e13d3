import type { ChatUser, MemberEventFrame, RoomEventFrame, WireMessage, EventFrame } from './protocol.js';
import type { ConnectionAuth } from './connection.js';

export declare const SESSION_KEY: string;

export declare class ApiError extends Error {
  readonly status: number;
  /** The service's stable error code (docs/REST.md), `network`, `signed_out` or `http_<status>`. */
  readonly code: string;
  readonly retryAfterSec: number | null;
}

export interface Session {
  token: string;
  refreshToken: string;
  user: ChatUser & Record<string, unknown>;
  /** ms since epoch */
  expiresAt: number;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface HistoryPage {
  messages: WireMessage[];
  events?: (EventFrame | MemberEventFrame | RoomEventFrame)[];
  hasMore: boolean;
}

export interface PostedMessage {
  id: string;
  ts: number;
  seq?: number;
  duplicate?: true;
}

export interface RestInit {
  base?: string;
  storage?: StorageLike;
  locks?: { request<T>(name: string, fn: () => Promise<T>): Promise<T> } | null;
  fetch?: typeof fetch;
  onSignedOut?: (reason?: string) => void;
}

export interface Rest {
  readonly session: Session | null;
  readonly user: Session['user'] | null;
  readonly token: string | null;
  readonly tokenExpiresAt: number;
  onSession(fn: (s: Session | null) => void): () => void;
  sessionChangedElsewhere(): void;
  refresh(): Promise<string>;
  register(username: string, password: string): Promise<unknown>;
  login(username: string, password: string): Promise<Session['user']>;
  logout(): Promise<void>;
  me(): Promise<any>;
  searchUsers(query: string): Promise<any>;
  myRooms(): Promise<any>;
  room(room: string): Promise<any>;
  createRoom(body: Record<string, unknown>): Promise<any>;
  updateRoom(room: string, patch: Record<string, unknown>): Promise<any>;
  members(room: string): Promise<any>;
  addMember(room: string, userId: string): Promise<any>;
  removeMember(room: string, userId: string): Promise<any>;
  setRole(room: string, userId: string, role: string): Promise<any>;
  ban(room: string, userId: string): Promise<any>;
  mute(room: string, userId: string, seconds: number): Promise<any>;
  unmute(room: string, userId: string): Promise<any>;
  postMessage(room: string, body: { text: string; cid: string; replyTo?: string; attachments?: string[] }): Promise<PostedMessage>;
  history(room: string, opts?: { before?: string; limit?: number }): Promise<HistoryPage>;
  replies(room: string, id: string, opts?: { after?: string; limit?: number }): Promise<any>;
  reads(room: string): Promise<any>;
  notifications(opts?: { before?: string; limit?: number; unread?: boolean }): Promise<any>;
  markNotificationsRead(ids: string[] | 'all'): Promise<any>;
  setRoomMuted(room: string, muted: boolean): Promise<any>;
  setStatus(status: 'online' | 'away' | 'dnd'): Promise<any>;
  stopAnswer(room: string, id: string): Promise<any>;
  config(): Promise<{ wsUrls: string[]; awayAfterSec?: number }>;
  /** What a Connection needs of this session (its `auth`): the token, its expiry, a refresh. */
  readonly connectionAuth: ConnectionAuth;
}

export declare function memoryStorage(): StorageLike;
export declare function jwtPayload(token: string): Record<string, unknown> | null;
export declare function createRest(init?: RestInit): Rest;
