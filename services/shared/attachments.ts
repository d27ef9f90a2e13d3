// Attachments (issue 16; DESIGN.md "Files"): the wire shape a message carries, and the one place
// that validates it wherever it crosses a boundary (the users service writes it into Redis at
// upload, send.lua copies it verbatim into the frame, the log and the ingest entry (`at`), and
// ingestion parses it back).
//
// The upload is the source of truth for name, type, size and dimensions: the client only names
// ids in its `send`, and send.lua takes the metadata the users service registered for that
// (room, uploader), so a client cannot claim a PDF is a PNG or inflate a size.

/** What a message shows of one uploaded file. */
// The wire shape (sdk/src/protocol.d.ts): id, name, sniffed MIME type, size, and for images
// width/height after EXIF orientation and whether a thumbnail exists.
export type { Attachment } from '../../sdk/src/protocol.js';
import type { Attachment } from '../../sdk/src/protocol.js';

/**
 * What a message says in one line (sidebar preview, notification): its text, or for files
 * alone their names ("📎 photo.png, report.pdf"), so a message of files never previews as blank.
 */
export function messageSummary(m: { text: string; attachments?: readonly Pick<Attachment, 'name'>[] | undefined }): string {
  if (m.text !== '' || m.attachments === undefined || m.attachments.length === 0) return m.text;
  return `📎 ${m.attachments.map((a) => a.name).join(', ')}`;
}

/** Upload ids: 'a' + 24 lowercase hex (96 random bits) — never guessable, never a path. */
export const ATTACHMENT_ID_RE = /^a[0-9a-f]{24}$/;

/** At most this many attachments on one message (protocol.ts checks a send's list against it). */
export const ATTACHMENTS_MAX_PER_MESSAGE = 10;

const NAME_MAX_CHARS = 200;

/**
 * A file name safe to show and to put in Content-Disposition: no path, no control or bidi
 * characters, at most NAME_MAX_CHARS; 'file' when nothing is left.
 */
export function attachmentName(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? '';
  const clean = base
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .trim()
    .slice(0, NAME_MAX_CHARS);
  return clean === '' || clean === '.' || clean === '..' ? 'file' : clean;
}

/**
 * The one serialisation of an Attachment: registered in Redis at upload and copied verbatim by
 * send.lua into the live frame, and rebuilt from the log on replay — the fixed key order makes
 * both the same bytes.
 */
export function attachmentJson(a: Attachment): string {
  return JSON.stringify({
    id: a.id, name: a.name, type: a.type, size: a.size,
    ...(a.width !== undefined ? { width: a.width } : {}),
    ...(a.height !== undefined ? { height: a.height } : {}),
    ...(a.thumb ? { thumb: true } : {}),
  });
}

function isAttachment(v: unknown): v is Attachment {
  if (typeof v !== 'object' || v === null) return false;
  const a = v as Record<string, unknown>;
  const dim = (x: unknown) => x === undefined || (Number.isSafeInteger(x) && (x as number) > 0);
  return (
    typeof a.id === 'string' &&
    ATTACHMENT_ID_RE.test(a.id) &&
    typeof a.name === 'string' &&
    a.name.length > 0 &&
    a.name.length <= NAME_MAX_CHARS &&
    typeof a.type === 'string' &&
    /^[a-z]+\/[a-z0-9.+-]+$/.test(a.type) &&
    Number.isSafeInteger(a.size) &&
    (a.size as number) >= 0 &&
    dim(a.width) &&
    dim(a.height) &&
    (a.thumb === undefined || a.thumb === true)
  );
}

/** The `at` field of a log or ingest entry: a JSON array of Attachment; an error text when malformed. */
export function parseAttachments(raw: string | undefined): Attachment[] | undefined | string {
  if (raw === undefined || raw === '') return undefined;
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    return 'invalid attachments (not JSON)';
  }
  if (!Array.isArray(list) || list.length === 0 || list.length > ATTACHMENTS_MAX_PER_MESSAGE) return 'invalid attachments';
  if (!list.every(isAttachment)) return 'invalid attachments';
  return list.map(({ id, name, type, size, width, height, thumb }) => ({
    id, name, type, size,
    ...(width !== undefined ? { width } : {}),
    ...(height !== undefined ? { height } : {}),
    ...(thumb ? { thumb } : {}),
  }));
}
