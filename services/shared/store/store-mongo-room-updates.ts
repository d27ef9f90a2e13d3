// The MongoDB store's room-side update pipelines (store-mongo-membership.ts applies them) and
// the room document as store.ts RoomMeta. Pure: exported to check them without a server.
//
// Every pipeline is idempotent and guarded by a version (idSortKey of an event or message id),
// so a batch retried after a crash, or applied in another order, leaves the same document.
// Every value that comes from a user goes through $literal, so a topic such as "$x" stays text.
import type { mongo } from 'mongoose';
import { idSortKey } from '../ids.js';
import type { MembershipEvent, Role, RoomChangeEvent } from '../membership.js';
import { dmMembers, roomKindOf, type RoomKind } from '../rooms.js';
import type { RoomBump } from './store-mongo-messages.js';
import type { RoomDoc } from './store-mongo-schemas.js';
import type { RoomMeta } from './store.js';

/** A member's place in a member list; null (in the document) for anyone who is not a member now. */
const RANK: Record<Role, number> = { owner: 0, admin: 1, member: 2 };
const kindOfName = (room: string): RoomKind => roomKindOf(room) ?? 'public';

/** Fields every room document has, whoever wrote it first (a message or an event). */
export function roomDefaults(room: string): mongo.Document {
  const d: mongo.Document = {
    kind: { $ifNull: ['$kind', kindOfName(room)] },
    topic: { $ifNull: ['$topic', ''] },
    archived: { $ifNull: ['$archived', false] },
    memberCount: { $ifNull: ['$memberCount', 0] },
    messageCount: { $ifNull: ['$messageCount', 0] },
    lastMessageAt: { $ifNull: ['$lastMessageAt', null] },
  };
  const members = dmMembers(room);
  if (members) d.members = { $ifNull: ['$members', { $literal: members }] };
  return d;
}

export function bumpUpdate(room: string, b: RoomBump): mongo.Document[] {
  const set: mongo.Document = {
    ...roomDefaults(room),
    messageCount: { $add: [{ $ifNull: ['$messageCount', 0] }, b.count] },
    // $max/$min ignore a null or missing field
    lastMessageAt: { $max: ['$lastMessageAt', b.last] },
    firstMessageAt: { $min: ['$firstMessageAt', b.first] },
    // a max: batches may land in any order
    topSeq: { $max: [{ $ifNull: ['$topSeq', 0] }, b.topSeq ?? 0] },
  };
  if (b.top) set.last = { $cond: [{ $lt: [{ $ifNull: ['$last.k', ''] }, b.top.k] }, { $literal: b.top }, '$last'] };
  return [{ $set: set }];
}

export function memberUpdate(e: MembershipEvent): mongo.Document[] {
  const v = idSortKey(e.id);
  const pick = (value: unknown, field: string) => ({ $cond: ['$_newer', { $literal: value }, `$${field}`] });
  const isMember = e.role !== undefined && !e.banned;
  const since = e.action === 'joined' || e.action === 'invited' ? e.ts : null;
  return [
    { $set: { _newer: { $lt: [{ $ifNull: ['$v', ''] }, v] } } },
    {
      $set: {
        room: { $literal: e.room },
        userId: { $literal: e.member.id },
        username: pick(e.member.name, 'username'),
        role: pick(e.role ?? null, 'role'),
        rank: pick(isMember ? RANK[e.role!] : null, 'rank'),
        banned: pick(e.banned === true, 'banned'),
        mutedUntil: pick(e.mutedUntil ?? null, 'mutedUntil'),
        since: since === null ? { $ifNull: ['$since', null] } : { $max: ['$since', since] },
        v: { $cond: ['$_newer', v, '$v'] },
      },
    },
    { $unset: '_newer' },
  ];
}

export function roomUpdate(e: RoomChangeEvent): mongo.Document[] {
  const v = idSortKey(e.id);
  const newer = (field: string, applies: boolean) => (applies ? { $lt: [{ $ifNull: [`$${field}`, ''] }, v] } : { $literal: false });
  const pick = (flag: string, value: unknown, field: string, fallback: unknown = null) => ({
    $cond: [flag, { $literal: value }, { $ifNull: [`$${field}`, fallback] }],
  });
  const created = e.action === 'created';
  const defaults = roomDefaults(e.room);
  return [
    {
      $set: {
        _c: newer('createdV', created),
        _t: newer('topicV', created || e.action === 'topic'),
        _a: newer('archivedV', e.action === 'archived' || e.action === 'unarchived'),
      },
    },
    {
      $set: {
        ...defaults,
        kind: pick('$_c', e.roomKind, 'kind', kindOfName(e.room)),
        title: pick('$_c', e.title ?? null, 'title'),
        createdAt: pick('$_c', e.ts, 'createdAt'),
        createdV: pick('$_c', v, 'createdV'),
        topic: pick('$_t', e.topic ?? '', 'topic', ''),
        topicV: pick('$_t', v, 'topicV'),
        archived: pick('$_a', e.archived === true, 'archived', false),
        archivedV: pick('$_a', v, 'archivedV'),
      },
    },
    { $unset: ['_c', '_t', '_a'] },
  ];
}

export function toRoomMeta(d: RoomDoc): RoomMeta {
  const kind = (d.kind as RoomKind | undefined) ?? kindOfName(d._id);
  const meta: RoomMeta = {
    name: d._id,
    kind,
    topic: d.topic ?? '',
    archived: d.archived === true,
    memberCount: kind === 'dm' ? 2 : (d.memberCount ?? 0),
    lastMessageAt: d.lastMessageAt ?? null,
    messageCount: d.messageCount ?? 0,
  };
  if (typeof d.title === 'string') meta.title = d.title;
  if (typeof d.ownerId === 'string' && kind !== 'dm') meta.ownerId = d.ownerId;
  return meta;
}

