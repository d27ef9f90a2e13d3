// What the attention routes take (attention-routes.ts): a room's mute, the DND status, marking
// notifications read and the inbox page. Bodies here take exactly the fields listed: a typo
// must not pass as "nothing to change".
import { z } from 'zod';
import { parseNotificationId } from '../../shared/store/store-common.js';
import { queryString, rule } from '../validation.js';

export const NOTIFICATIONS_DEFAULT_LIMIT = 30;
export const NOTIFICATIONS_MAX_LIMIT = 100;
/** Ids in one mark-read request (a page of the inbox). */
export const MARK_READ_MAX_IDS = 100;
export const STATUSES = ['online', 'away', 'dnd'] as const;
export type Status = (typeof STATUSES)[number];

const field = (name: string, why: string) => rule('invalid_field', `${name} ${why}`);

/** An object of exactly these fields: another is 400 invalid_body naming it. */
function onlyFields<S extends z.ZodRawShape>(shape: S) {
  const takes = Object.keys(shape).join(' or ');
  return z.strictObject(
    shape,
    rule('invalid_body', (input) => {
      const extra = Object.keys(input as object).find((k) => !(k in shape));
      return `unknown field ${extra}: this request takes ${takes}`;
    }),
  );
}

const notificationId = (name: string) => {
  const r = rule('invalid_id', `${name} must be a notification id (the id of a listed notification)`);
  return z.string(r).refine((id) => parseNotificationId(id) !== null, r);
};

/** PATCH /api/me/rooms/:room {muted} */
export const mutedBody = onlyFields({ muted: z.boolean(field('muted', 'must be true or false')).meta({ description: "mute (true) or unmute the room's notifications for you" }) });

/** PUT /api/me/status {status} */
export const statusBody = onlyFields({ status: z.enum(STATUSES, field('status', `must be ${STATUSES.join(', ')}`)) });

/** POST /api/me/notifications/read {ids} | {all: true} */
export const markReadBody = onlyFields({
  ids: z
    .array(notificationId('ids[]'), field('ids', `must be an array of 1–${MARK_READ_MAX_IDS} notification ids (or give all: true)`))
    .min(1, field('ids', `must be an array of 1–${MARK_READ_MAX_IDS} notification ids (or give all: true)`))
    .max(MARK_READ_MAX_IDS, field('ids', `must be an array of 1–${MARK_READ_MAX_IDS} notification ids (or give all: true)`))
    .optional()
    .meta({ description: `1–${MARK_READ_MAX_IDS} ids of your notifications` }),
  all: z.literal(true, field('all', 'must be true (to mark some, give ids)')).optional().meta({ description: 'mark every notification read' }),
})
  .refine((b) => 'ids' in b !== 'all' in b, { ...rule('invalid_body', 'give ids (a list) or all: true, one of them'), when: () => true })
  .transform((b): string[] | 'all' => (b.all ? 'all' : [...new Set(b.ids)]))
  .meta({ description: 'exactly one of `ids` and `all`' });

/** GET /api/me/notifications ?before=<id>&limit=<1..100>&unread=1 */
export const inboxQuery = z
  .object({
    before: queryString('before')
      .pipe(notificationId('before'))
      .optional()
      .meta({ description: 'a notification id: the page after it (older)' }),
    limit: queryString('limit')
      .regex(/^\d{1,3}$/, rule('invalid_limit', `limit must be an integer from 1 to ${NOTIFICATIONS_MAX_LIMIT}`))
      .transform(Number)
      .refine((n) => n >= 1 && n <= NOTIFICATIONS_MAX_LIMIT, rule('invalid_limit', `limit must be an integer from 1 to ${NOTIFICATIONS_MAX_LIMIT}`))
      .optional()
      .transform((n) => n ?? NOTIFICATIONS_DEFAULT_LIMIT)
      .meta({ description: `1–${NOTIFICATIONS_MAX_LIMIT}, default ${NOTIFICATIONS_DEFAULT_LIMIT}` }),
    // given twice is refused by the same rule (an array is none of these)
    unread: z
      .enum(['0', '1', 'true', 'false'], field('unread', 'must be 1 or 0'))
      .optional()
      .meta({ description: '`1` or `true`: unread ones only; `0` or `false` (the default): all' }),
  })
  .transform(({ before, limit, unread }) => ({
    ...(before !== undefined && { beforeId: before }),
    limit,
    unreadOnly: unread === '1' || unread === 'true',
  }));
