// Attachments over REST (DESIGN.md "Files"; docs/REST.md "Attachments"): upload into a room, the
// authorised download, signed links for <img> and download anchors, and the link-served route.
//
// Who may read a file: members of its room (assertReadable, as for history) — and until a
// message names it, only its uploader; once its message is deleted, nobody. An upload's `sent`
// state is known in Redis (send.lua marks the id in keys.roomUploads) before ingestion links it
// in the store, so another member's first look at a live message's image never races storage.
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { Store, StoredAttachment } from '../shared/store/store.js';
import { registerUpload, uploadSent } from '../shared/uploads.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import { hitFixedWindow, retryAfterSec } from './ip-limits.js';
import { assertReadable } from './room-changes.js';
import type { FileStorage } from './files/file-storage.js';
import { newAttachmentId, storeUpload } from './files/upload-pipeline.js';
import { createFileLinks, type FileVariant } from './files-links.js';
import { serveAttachment } from './files-serve.js';
import { attachmentIdParam, signedLinkQuery, uploadQuery, variantQuery } from './schemas/files.js';
import { roomName } from './schemas/rooms.js';
import { parse } from './validation.js';

export interface FilesDeps {
  config: Config;
  store: Store;
  redis: Redis;
  keys: Keys;
  storage: FileStorage;
  log: Logger;
  auth: RequestHandler;
}

const variantOf = (req: Request): FileVariant => parse(variantQuery, req.query);
const attachmentId = attachmentIdParam('attachment');
const attachmentIdOf = (param: unknown): string => parse(attachmentId, param);

export function filesRouter(deps: FilesDeps): Router {
  const { config, store, redis, keys, storage, log, auth } = deps;
  const links = createFileLinks(config.JWT_SECRET, config.ATTACHMENT_LINK_TTL_SEC);
  const router = Router();

  /** The attachment `id` of `room` if `viewerId` may read it now; else 404 (never says why). */
  async function readable(room: string, id: string, viewerId: string): Promise<StoredAttachment> {
    const att = await store.getAttachment(id);
    if (att === null || att.room !== room) throw new ApiError('not_found', 'no such attachment');
    if (att.messageId !== undefined) {
      const message = await store.getMessage(room, att.messageId);
      if (message === null || message.deleted) throw new ApiError('not_found', 'no such attachment');
    } else if (att.ownerId !== viewerId && !(await uploadSent(redis, keys, room, id))) {
      throw new ApiError('not_found', 'no such attachment');
    }
    return att;
  }

  router
    .route('/api/rooms/:room/attachments')
    .post(auth, async (req, res) => {
      try {
        await acceptUpload(req, res);
      } catch (err) {
        // Refused before the body was read to its end (limits, a 413 mid-stream): close the
        // connection rather than let Node read and discard the rest of a huge body.
        if (!req.complete) res.set('Connection', 'close');
        throw err;
      }
    })
    .all(methodNotAllowed(['POST']));

  async function acceptUpload(req: Request, res: Response): Promise<void> {
    const user = authedUser(res);
    const room = parse(roomName, req.params.room);
    await assertReadable(store, room, user.id);
    const { name } = parse(uploadQuery, req.query);
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (declared !== undefined && declared > config.ATTACHMENT_MAX_BYTES) {
      throw new ApiError('payload_too_large', `files are limited to ${config.ATTACHMENT_MAX_BYTES} bytes`);
    }
    const { count, ttl } = await hitFixedWindow(redis, keys.uploadsPerUser(user.id), 60).catch(() => {
      throw new ApiError('unavailable', 'uploads are temporarily unavailable; try again shortly');
    });
    if (count > config.ATTACHMENT_UPLOADS_PER_MIN) {
      const retryAfter = retryAfterSec(ttl, 60);
      throw new ApiError('too_many_requests', `at most ${config.ATTACHMENT_UPLOADS_PER_MIN} uploads a minute; try again in ${retryAfter} s`, {
        'Retry-After': retryAfter,
      });
    }
    const used = await store.attachmentBytesOf(user.id);
    if (used + (declared ?? 0) > config.ATTACHMENT_QUOTA_BYTES) throw quotaError(config.ATTACHMENT_QUOTA_BYTES);
    const id = newAttachmentId();
    const result = await storeUpload({
      body: req,
      declaredLength: declared,
      name,
      maxBytes: config.ATTACHMENT_MAX_BYTES,
      allowedTypes: config.ATTACHMENT_TYPES,
      storage,
      id,
    });
    if (!result.ok) {
      const code = result.status === 413 ? 'payload_too_large' : result.status === 415 ? 'unsupported_media_type' : 'invalid_body';
      throw new ApiError(code, result.message);
    }
    const dropFiles = () =>
      Promise.all([storage.delete(result.storageKey), result.thumbKey ? storage.delete(result.thumbKey) : undefined]).catch((err: Error) =>
        log.warn({ err: err.message, id }, 'could not delete a refused upload (the collector will)'),
      );
    // The quota is checked again with the real size (a body without Content-Length).
    if (used + result.attachment.size > config.ATTACHMENT_QUOTA_BYTES) {
      await dropFiles();
      throw quotaError(config.ATTACHMENT_QUOTA_BYTES);
    }
    const stored: StoredAttachment = {
      ...result.attachment,
      room,
      ownerId: user.id,
      storageKey: result.storageKey,
      ...(result.thumbKey !== undefined ? { thumbKey: result.thumbKey } : {}),
      createdAt: Date.now(),
    };
    try {
      await store.saveAttachment(stored);
      await registerUpload(redis, keys, room, user.id, result.attachment, config.ATTACHMENT_ORPHAN_TTL_SEC);
    } catch (err) {
      // Not registered: no send can name it; the row (if any) is collected as never sent.
      await dropFiles();
      throw err;
    }
    res.status(201).json({ attachment: result.attachment });
  }

  router
    .route('/api/rooms/:room/attachments/:id')
    .get(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const viewer = authedUser(res).id;
      await assertReadable(store, room, viewer);
      const att = await readable(room, attachmentIdOf(req.params.id), viewer);
      await serveAttachment(storage, att, variantOf(req), req, res, config.ATTACHMENT_LINK_TTL_SEC);
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  router
    .route('/api/rooms/:room/attachments/:id/link')
    .get(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const viewer = authedUser(res).id;
      await assertReadable(store, room, viewer);
      const att = await readable(room, attachmentIdOf(req.params.id), viewer);
      res.json(links.sign(att.id, variantOf(req)));
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  // The link-served route: the signature is the authorisation (minted by …/link above for a
  // reader at that time); a message deleted since still hides its files.
  router
    .route('/files/:id')
    .get(async (req, res) => {
      const id = attachmentIdOf(req.params.id);
      const { v, exp, sig } = parse(signedLinkQuery, req.query);
      if (!links.verify(id, v, exp, sig)) {
        throw new ApiError('forbidden', 'this link is invalid or has expired; open the file from the chat again');
      }
      const att = await store.getAttachment(id);
      if (att === null) throw new ApiError('not_found', 'no such attachment');
      if (att.messageId !== undefined) {
        const message = await store.getMessage(att.room, att.messageId);
        if (message === null || message.deleted) throw new ApiError('not_found', 'no such attachment');
      }
      await serveAttachment(storage, att, v as FileVariant, req, res, Math.max(0, Number(exp) - Math.floor(Date.now() / 1000)));
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  return router;
}

function quotaError(quota: number): ApiError {
  return new ApiError('quota_exceeded', `your stored files would pass your quota of ${Math.round(quota / 1024 / 1024)} MiB; delete messages with files to free space`);
}
