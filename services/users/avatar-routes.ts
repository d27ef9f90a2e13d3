// Avatars (issue 16 "Profiles"): PUT /api/me/avatar takes a raw image body (like an attachment
// upload: mounted before the JSON parser), DELETE /api/me/avatar clears it, GET /avatars/:id
// serves it.
//
// An avatar is never the uploaded file: the type is sniffed from the bytes (PNG, JPEG, WebP,
// GIF only), the pixel count checked from the header before decoding (no decompression bombs),
// and sharp re-encodes the first frame, EXIF orientation applied and every metadata block
// dropped, into a square AVATAR_SIZE WebP (cover crop). The body is read into memory up to
// AVATAR_MAX_BYTES (5 MiB: sharp needs the whole image anyway) and refused at the first byte past.
//
// GET /avatars/:id needs no token (an <img> cannot send one): the id is 96 random bits, new for
// every avatar, and the route serves only ids that are some user's CURRENT avatar (never an
// attachment, which shares the id shape and the storage). Since an id's bytes never change it
// is cached for a year, immutable.
import { Router, type Request, type RequestHandler } from 'express';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../shared/logger.js';
import type { Store } from '../shared/store/store.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import type { FileStorage } from './files/file-storage.js';
import { IMAGE_MAX_PIXELS, loadSharp } from './files/images.js';
import { IMAGE_TYPES, SNIFF_BYTES, sniffType } from './files/sniff.js';
import { newAttachmentId } from './files/upload-pipeline.js';
import type { PublishProfile } from './profile-live.js';
import { profileOf } from './profile-routes.js';
import { attachmentIdParam } from './schemas/files.js';
import { parse } from './validation.js';

export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;
/** Avatars are this many pixels square. */
export const AVATAR_SIZE = 256;
const AVATAR_TYPE = 'image/webp';
const avatarId = attachmentIdParam('avatar');

export interface AvatarDeps {
  auth: RequestHandler;
  store: Store;
  storage: FileStorage;
  log: Logger;
  /** The live `profile` frame after a change (profile-live.ts). */
  publishProfile: PublishProfile;
}

/** The request body, whole, or 413 at the first byte past `max` (the rest is not read). */
export async function readBody(req: Readable & { headers: Request['headers'] }, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > max) throw new ApiError('payload_too_large', `an avatar is at most ${max} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  // destroyOnReturn false: leaving the loop at the limit must not destroy the socket, or the 413
  // could never be sent (the route closes the connection after answering instead)
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new ApiError('payload_too_large', `an avatar is at most ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The square WebP of an uploaded image; ApiError 400/413/415 for anything else. */
export async function avatarImage(input: Buffer, maxPixels = IMAGE_MAX_PIXELS): Promise<Buffer> {
  if (input.length === 0) throw new ApiError('invalid_body', 'the image is empty');
  const type = await sniffType(input.subarray(0, SNIFF_BYTES));
  if (!IMAGE_TYPES.has(type)) throw new ApiError('unsupported_media_type', 'an avatar must be a PNG, JPEG, WebP or GIF image');
  const sharp = await loadSharp();
  try {
    const meta = await sharp(input).metadata();
    if ((meta.width ?? 0) * (meta.height ?? 0) > maxPixels) throw new ApiError('payload_too_large', `image too large: at most ${maxPixels} pixels`);
    // limitInputPixels again at decode: the header could lie about the size
    return await sharp(input, { limitInputPixels: maxPixels })
      .rotate()
      .resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'cover' })
      .webp({ quality: 85 })
      .toBuffer();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (/pixel limit/i.test((err as Error).message)) throw new ApiError('payload_too_large', `image too large: at most ${maxPixels} pixels`);
    throw new ApiError('unsupported_media_type', 'the image could not be decoded');
  }
}

export function avatarRouter(deps: AvatarDeps): Router {
  const { auth, store, storage, log, publishProfile } = deps;
  const router = Router();

  /** Deleting a replaced file may fail: the avatar is changed all the same (logged, left behind). */
  const forget = async (id: string | undefined) => {
    if (id === undefined) return;
    await storage.delete(id).catch((err: unknown) => log.warn({ err, avatar: id }, 'could not delete a replaced avatar file'));
  };

  router
    .route('/api/me/avatar')
    .put(auth, async (req, res) => {
      const me = authedUser(res);
      let image: Buffer;
      try {
        image = await avatarImage(await readBody(req, AVATAR_MAX_BYTES));
      } catch (err) {
        // refused before the body was read to its end: do not let Node drain a huge body
        if (!req.complete) res.set('Connection', 'close');
        throw err;
      }
      const id = newAttachmentId();
      await storage.put(id, Readable.from([image]), AVATAR_TYPE);
      let changed;
      try {
        changed = await store.setAvatar(me.id, id);
      } catch (err) {
        await storage.delete(id).catch(() => {});
        throw err;
      }
      if (!changed) {
        await storage.delete(id).catch(() => {});
        throw new ApiError('unauthorized', 'this account no longer exists');
      }
      await forget(changed.previous);
      await publishProfile(profileOf(changed.user));
      res.json({ user: profileOf(changed.user) });
    })
    .delete(auth, async (_req, res) => {
      const me = authedUser(res);
      const changed = await store.setAvatar(me.id, null);
      if (!changed) throw new ApiError('unauthorized', 'this account no longer exists');
      await forget(changed.previous);
      if (changed.previous !== undefined) await publishProfile(profileOf(changed.user));
      res.json({ user: profileOf(changed.user) });
    })
    .all(methodNotAllowed(['PUT', 'DELETE']));

  router
    .route('/avatars/:id')
    .get(async (req, res) => {
      // the same 404 for a bad id, an old avatar, an attachment and a lost file
      const id = parse(avatarId, req.params.id);
      if (!(await store.isAvatar(id))) throw new ApiError('not_found', 'no such avatar');
      const got = await storage.get(id);
      if (got === null) throw new ApiError('not_found', 'no such avatar');
      res.set({
        'Content-Type': AVATAR_TYPE,
        'Content-Length': String(got.info.size),
        'Cache-Control': 'public, max-age=31536000, immutable',
        'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': "default-src 'none'; sandbox",
        ETag: `"${id}"`,
      });
      if (req.method === 'HEAD') {
        got.body.destroy();
        res.end();
        return;
      }
      await pipeline(got.body, res).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
      });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  return router;
}
