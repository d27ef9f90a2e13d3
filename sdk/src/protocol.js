// Runtime constants of the protocol `aurora.v1` (types: protocol.d.ts). The server imports
// these too (services/chat/protocol.ts, services/shared/message.ts): one definition.

export const PROTOCOL = 'aurora.v1';
export const BEARER_PREFIX = 'bearer.';

export const ERROR_CODES = Object.freeze([
  'bad_request',
  'invalid_room',
  'too_long',
  'not_joined',
  'not_found',
  'limit_reached',
  'rate_limited',
  'forbidden',
  'muted',
  'overloaded',
  'bad_attachment',
  'internal',
]);

export const CloseCode = Object.freeze({
  NORMAL: 1000,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  SERVICE_RESTART: 1012,
  TOKEN_EXPIRED: 4001,
  SLOW_CONSUMER: 4008,
});

// `internal`: Redis failed, the change may or may not have been taken — the same cid makes a
// retry safe. `overloaded` / `rate_limited`: refused for now (retryAfterMs). `not_joined`: the
// socket lost the room (a replica restart raced the send): rejoin, then retry.
export const RETRYABLE_CODES = Object.freeze(['internal', 'overloaded', 'rate_limited', 'not_joined']);

export const MAX_TEXT_CHARS = 4000;
export const CID_RE = /^[A-Za-z0-9_-]{1,64}$/;
