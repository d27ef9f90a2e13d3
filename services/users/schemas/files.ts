// What the file routes take (files-routes.ts, avatar-routes.ts) and the assistant's stop button
// (assistant-routes.ts). An id that is not an attachment's is simply "no such attachment"
// (404): the answer never tells a malformed id from one the caller may not read.
import { z } from 'zod';
import { ATTACHMENT_ID_RE } from '../../shared/attachments.js';
import { isMessageId } from '../../shared/ids.js';
import { rule } from '../validation.js';

const VARIANTS = ['file', 'thumb'] as const;
const VARIANT_RULE = rule('invalid_field', 'variant must be file or thumb');

/** An attachment id in a path; `what` names it in the 404 (`attachment`, `avatar`). */
export const attachmentIdParam = (what: string) => {
  const r = rule('not_found', `no such ${what}`);
  return z.string(r).regex(ATTACHMENT_ID_RE, r).meta({ description: `${what} id: \`a\` + 24 lowercase hex characters` });
};

/** `?variant=file|thumb` of a download or a link (`v`, the name signed links use, as a fallback). */
export const variantQuery = z
  .object({
    variant: z.enum(VARIANTS, VARIANT_RULE).optional().meta({ description: 'the file (the default) or its thumbnail (images only)' }),
    v: z.unknown().optional().meta({ description: 'the same as `variant`, when `variant` is absent' }),
  })
  .transform((q) => q.variant ?? q.v ?? 'file')
  .pipe(z.enum(VARIANTS, VARIANT_RULE));

/** POST /api/rooms/:room/attachments `?name=`: the file name to show; anything but one string is no name. */
export const uploadQuery = z.object({
  name: z.string().catch('').meta({ description: 'the file name as it should be shown (cleaned by the server); `file` when absent' }),
});

/** GET /files/:id: what …/link signed; anything missing is a link that does not verify (403). */
const LINK_RULE = rule('forbidden', 'this link is invalid or has expired; open the file from the chat again');
export const signedLinkQuery = z.object({
  v: z.string(LINK_RULE).meta({ description: 'the variant the link was made for' }),
  exp: z.string(LINK_RULE).meta({ description: 'when the link expires (unix seconds)' }),
  sig: z.string(LINK_RULE).meta({ description: 'the signature (hex)' }),
});

/** POST /api/rooms/:room/assistant/stop {id} */
export const assistantStopBody = z.object({
  id: z
    .string(rule('invalid_field', 'id must be the id of the answer to stop'))
    .refine(isMessageId, rule('invalid_field', 'id must be the id of the answer to stop'))
    .meta({ description: 'the message id of the answer in progress' }),
});
