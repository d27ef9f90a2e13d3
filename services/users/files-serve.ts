// Serving one stored file (DESIGN.md "Files"): the headers that keep an uploaded file from ever
// running as part of this site, and single-range requests (video seeking, resumed downloads).
//
// - Content-Type is the type sniffed at upload (never the client's claim); text gets a charset.
// - Inline only for the raster image types (and every thumbnail, a WebP we made): everything
//   else — HTML and SVG arrive as text/plain by sniffing, PDFs, archives — is `attachment`, so a
//   browser downloads it instead of rendering it under our origin.
// - nosniff stops a browser from second-guessing the type; the CSP sandbox makes even a file
//   opened directly inert (no script, no same-origin).
import { create as contentDisposition } from 'content-disposition';
import type { Request, Response } from 'express';
import rangeParser from 'range-parser';
import { pipeline } from 'node:stream/promises';
import type { StoredAttachment } from '../shared/store/store.js';
import type { FileStorage } from './files/file-storage.js';
import type { FileVariant } from './files-links.js';
import { ApiError } from './errors.js';

const INLINE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);
const THUMB_TYPE = 'image/webp';

/** Streams `variant` of `att` to `res` (200 or 206), or throws ApiError 404/416. */
export async function serveAttachment(
  storage: FileStorage,
  att: StoredAttachment,
  variant: FileVariant,
  req: Request,
  res: Response,
  cacheSec: number,
): Promise<void> {
  const thumb = variant === 'thumb';
  const key = thumb ? att.thumbKey : att.storageKey;
  if (key === undefined) throw new ApiError('not_found', 'this attachment has no thumbnail');
  const info = await storage.head(key);
  if (info === null) throw new ApiError('not_found', 'the file is gone');
  const type = thumb ? THUMB_TYPE : att.type;
  res.set({
    'Content-Type': type.startsWith('text/') ? `${type}; charset=utf-8` : type,
    'Content-Disposition': contentDisposition(thumb ? `${att.name}.webp` : att.name, { type: thumb || INLINE_TYPES.has(type) ? 'inline' : 'attachment' }),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': `private, max-age=${cacheSec}`,
    'Accept-Ranges': 'bytes',
    ETag: `"${att.id}-${variant}-${info.size}"`,
  });
  if (req.fresh) {
    res.status(304).end();
    return;
  }
  let range: { start: number; end: number } | undefined;
  const header = req.headers.range;
  if (header !== undefined && info.size > 0) {
    const ranges = rangeParser(info.size, header, { combine: true });
    if (ranges === -1) {
      res.set('Content-Range', `bytes */${info.size}`);
      throw new ApiError('range_not_satisfiable', 'the range is outside the file');
    }
    // Several ranges (multipart/byteranges) or a malformed header: the whole file, as RFC 9110 allows.
    if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1) range = ranges[0];
  }
  const got = await storage.get(key, range);
  if (got === null) throw new ApiError('not_found', 'the file is gone');
  if (range !== undefined) {
    res.status(206).set({ 'Content-Range': `bytes ${range.start}-${range.end}/${info.size}`, 'Content-Length': String(range.end - range.start + 1) });
  } else {
    res.status(200).set('Content-Length', String(info.size));
  }
  if (req.method === 'HEAD') {
    got.body.destroy();
    res.end();
    return;
  }
  // A client going away mid-download ends the storage read too (pipeline destroys both).
  await pipeline(got.body, res).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
  });
}
