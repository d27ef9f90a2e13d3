// Image uploads (PNG, JPEG, WebP, GIF) go through sharp before anything is stored: EXIF
// orientation applied (.rotate()), re-encoded in their own format, which drops every piece of
// metadata (EXIF incl. GPS, XMP, IPTC, comments: sharp keeps none unless asked), plus a WebP
// thumbnail and the pixel size. What the users service serves is this output, never the upload.
//
// The pixel count is checked from the header before decoding: a small file that inflates into
// gigabytes of pixels (a decompression bomb) is refused without being decoded.
import type { Metadata, Sharp } from 'sharp';

/**
 * sharp (libvips) loaded on the first image, not at start: ~28 MiB of RSS a users replica that
 * serves no image never needs. libvips' operation cache is switched off: it would keep spool
 * files open after the pipeline deletes them (their disk space with them), and every upload is a
 * different file, so it never hits anyway.
 */
let sharpLoaded: Promise<typeof import('sharp')['default']> | undefined;
export function loadSharp(): Promise<typeof import('sharp')['default']> {
  sharpLoaded ??= import('sharp').then(({ default: sharp }) => {
    sharp.cache({ files: 0 });
    return sharp;
  });
  return sharpLoaded;
}

/** Largest image decoded, in pixels over all frames (a 50 MP photo; a long animation). */
export const IMAGE_MAX_PIXELS = 50_000_000;
/** Thumbnails fit inside this square, never enlarged. */
export const THUMB_SIZE = 320;
export const THUMB_TYPE = 'image/webp';

export interface ProcessedImage {
  /** MIME type of the output (the input's format). */
  type: string;
  /** Pixel size after EXIF orientation; one frame of an animation. */
  width: number;
  height: number;
  /** Bytes of the output file. */
  size: number;
  /** The WebP thumbnail (first frame), small enough to hold. */
  thumb: Buffer;
}

export class ImageError extends Error {
  constructor(
    readonly code: 'too_many_pixels' | 'bad_image',
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}

const FORMATS = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif' } as const;
type Format = keyof typeof FORMATS;

/**
 * Re-encodes the image at `input` (a file path, or bytes) into `output` (a file path) with
 * orientation applied and metadata stripped, and makes its thumbnail. Throws ImageError.
 */
export async function processImage(
  input: string | Buffer,
  output: string,
  maxPixels: number = IMAGE_MAX_PIXELS,
): Promise<ProcessedImage> {
  const sharp = await loadSharp();
  let meta: Metadata;
  try {
    meta = await sharp(input, { animated: true, limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageError('bad_image', `not a readable image (${(err as Error).message.split('\n')[0]})`);
  }
  const format = meta.format as string;
  if (!(format in FORMATS)) throw new ImageError('bad_image', `unsupported image format ${format}`);
  // With `animated`, height covers every frame: this is the whole decode.
  if ((meta.width ?? 0) * (meta.height ?? 0) > maxPixels) {
    throw new ImageError('too_many_pixels', `image too large: ${meta.width}x${meta.height} pixels (at most ${maxPixels})`);
  }
  const pages = meta.pages ?? 1;
  const animated = pages > 1;

  try {
    // limitInputPixels again at decode: the header could lie about the size.
    const info = await encode(sharp(input, { animated, limitInputPixels: maxPixels }).rotate(), format as Format).toFile(output);
    const thumb = await sharp(input, { limitInputPixels: maxPixels })
      .rotate()
      .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80 })
      .toBuffer();
    const height = animated ? (info.pageHeight ?? Math.round(info.height / pages)) : info.height;
    return { type: FORMATS[format as Format], width: info.width, height, size: info.size, thumb };
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? '';
    if (/pixel limit/i.test(message)) throw new ImageError('too_many_pixels', `image too large (at most ${maxPixels} pixels)`);
    throw new ImageError('bad_image', `image could not be decoded (${message})`);
  }
}

function encode(img: Sharp, format: Format): Sharp {
  switch (format) {
    case 'jpeg':
      return img.jpeg({ quality: 85 });
    case 'png':
      return img.png();
    case 'webp':
      return img.webp({ quality: 85 });
    case 'gif':
      return img.gif();
  }
}
