// The type of an upload, from its first bytes only (never the client's Content-Type or file
// name). file-type knows the binary formats by their magic numbers; what it does not know is
// text when it decodes as UTF-8 without NUL, else opaque bytes. Markup (HTML, SVG, XML) is text:
// it is served as a text/plain download with nosniff, never rendered.
import { fileTypeFromBuffer } from 'file-type';

/** file-type reads at most this many bytes of the head. */
export const SNIFF_BYTES = 4100;

export const TEXT_PLAIN = 'text/plain';
export const OCTET_STREAM = 'application/octet-stream';

/** The raster types sharp re-encodes and thumbnails (images.ts). */
export const IMAGE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);

export async function sniffType(head: Buffer): Promise<string> {
  const bytes = head.subarray(0, SNIFF_BYTES);
  if (bytes.length === 0) return OCTET_STREAM;
  const found = await fileTypeFromBuffer(bytes);
  const text = isUtf8Text(bytes);
  // file-type recognises XML (SVG with a declaration among it) by its opening text: still text.
  if (found && !(text && isMarkup(found.mime))) return found.mime;
  return text ? TEXT_PLAIN : OCTET_STREAM;
}

function isMarkup(mime: string): boolean {
  return mime.startsWith('text/') || mime === 'application/xml' || mime.endsWith('+xml');
}

/**
 * Valid UTF-8 with no NUL. The head is a prefix of the file, so a multi-byte character cut at its
 * end is fine (stream mode keeps the incomplete tail instead of failing on it).
 */
export function isUtf8Text(head: Buffer): boolean {
  if (head.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return true;
  } catch {
    return false;
  }
}
