// The hand-over between an upload and the `send` that names it (DESIGN.md "Files"): the users
// service registers each stored upload in the room's uploads hash (keys.roomUploads), and
// send.lua takes it from there in the same atomic call that accepts the message — so whether an
// id may be attached (this sender's, this room's, not sent yet) is decided where the message is,
// with no store read on the send path.
import type { Redis } from 'ioredis';
import { attachmentJson, type Attachment } from './attachments.js';
import type { Keys } from './keys.js';

/** Makes `attachment` sendable by `ownerId` in `room` for `ttlSec` (renewing the hash's expiry). */
export async function registerUpload(
  redis: Redis,
  keys: Keys,
  room: string,
  ownerId: string,
  attachment: Attachment,
  ttlSec: number,
): Promise<void> {
  const key = keys.roomUploads(room);
  await redis.multi().hset(key, attachment.id, `${ownerId} ${attachmentJson(attachment)}`).expire(key, ttlSec).exec();
}

/**
 * True once a send has named the upload (send.lua replaced its entry with "~<message id>"): the
 * message may not be stored yet, but every member may see its files. False for an upload still
 * unsent, or one no longer registered (its hash expired: never sent, collected).
 */
export async function uploadSent(redis: Redis, keys: Keys, room: string, id: string): Promise<boolean> {
  const value = await redis.hget(keys.roomUploads(room), id);
  return value !== null && value.startsWith('~');
}
