import type { AckFrame, ClientFrame, ErrorCode, ErrorFrame, ServerFrame, UnchangedAckFrame } from './protocol.js';

export type ChangeFrame = Extract<ClientFrame, { type: 'send' | 'edit' | 'delete' | 'react' }>;
export type OutboxFrame = ChangeFrame extends infer F ? (F extends { cid: string } ? Omit<F, 'cid'> & { cid?: string } : never) : never;

export declare class OutboxError extends Error {
  readonly code: ErrorCode | 'stopped';
  readonly frame: ErrorFrame | null;
}

export interface OutboxLink {
  canSend(room: string): boolean;
  send(frame: ChangeFrame): boolean;
  rejoin(room: string): void;
}

export declare class Outbox {
  constructor(link: OutboxLink, options?: { ackTimeoutMs?: number; retry?: { baseMs: number; maxMs: number }; onChange?: (pending: ChangeFrame[]) => void });
  readonly size: number;
  readonly resends: number;
  readonly ackTimeouts: number;
  submit(frame: OutboxFrame): Promise<AckFrame | UnchangedAckFrame>;
  pending(): ChangeFrame[];
  flush(room: string): void;
  requeueInflight(): void;
  handle(frame: ServerFrame | { type: string }): boolean;
  stop(reason?: string): void;
}
