// @aurorachat/client — a DOM-free client for AuroraChat, in the browser (no build step: these
// files are served as-is at /sdk/) and in Node. Start with createClient (client.js); the parts
// it is made of are exported for clients that want their own state (the browser's app).
export { createClient } from './client.js';
export { Connection } from './connection.js';
export { Outbox, OutboxError } from './outbox.js';
export { ApiError, createRest, jwtPayload, memoryStorage } from './rest.js';
export { compareIds, idTime, insertSorted, isMessageId, newCid } from './ids.js';
export { DEFAULT_ROOM, dmMembers, dmPartner, dmRoomName, isConversation, isMembersOnlyRoom, isPublicRoom, isValidRoom, roomKindOf } from './rooms.js';
export { BEARER_PREFIX, CID_RE, CloseCode, ERROR_CODES, MAX_TEXT_CHARS, PROTOCOL, RETRYABLE_CODES } from './protocol.js';
export { backoffDelay, overloadedRetryDelay, reconnectDelay, resolveWsUrl } from './timing.js';
