// The store side of one notify batch: what the plans need from the store (one roomMembers and
// one notifyPrefs per room, whatever the number of entries), the inserts, and the live frame.
import { GROUP_MAX_MEMBERS } from '../shared/membership.js';
import type { NewNotification, NotifyPrefs, Store } from '../shared/store/store.js';
import { candidatesOf, needsMembers, resolvePlan, type DropReason, type NotifyPlan } from './causes.js';

export interface ResolvedBatch {
  notifications: NewNotification[];
  dropped: DropReason[];
  /** DND per notified user (from the same notifyPrefs answers): stored, never pushed. */
  dnd: Set<string>;
}

/** Resolves every plan of a batch with at most two store reads per room. */
export async function resolveBatch(store: Store, plans: readonly NotifyPlan[], roomMentionMax: number): Promise<ResolvedBatch> {
  const byRoom = new Map<string, NotifyPlan[]>();
  for (const p of plans) {
    const list = byRoom.get(p.room);
    if (list) list.push(p);
    else byRoom.set(p.room, [p]);
  }
  const out: ResolvedBatch = { notifications: [], dropped: [], dnd: new Set() };
  for (const [room, list] of byRoom) {
    let members: string[] = [];
    if (list.some(needsMembers)) {
      // @room was allowed at send for at most ROOM_MENTION_MAX_MEMBERS members; +1 leaves room
      // for the sender, who is never notified. A group has at most GROUP_MAX_MEMBERS.
      const limit = Math.max(list.some((p) => p.roomMention) ? roomMentionMax + 1 : 0, list.some((p) => p.group) ? GROUP_MAX_MEMBERS : 0);
      members = (await store.roomMembers(room, limit)).map((m) => m.id);
    }
    const ids = new Set<string>();
    for (const p of list) for (const id of candidatesOf(p, members)) ids.add(id);
    const prefs: Map<string, NotifyPrefs> = ids.size > 0 ? await store.notifyPrefs(room, [...ids]) : new Map();
    for (const p of list) {
      const r = resolvePlan(p, members, prefs);
      out.notifications.push(...r.notifications);
      out.dropped.push(...r.dropped);
      for (const n of r.notifications) if (prefs.get(n.userId)?.dnd) out.dnd.add(n.userId);
    }
  }
  return out;
}

export type { InsertedNotification as Inserted } from '../shared/store/store.js';

/** The user channel frame of a new notification (docs/PROTOCOL.md `notify`; chat/frames.ts builds every frame). */
export { notifyFrame } from '../chat/frames.js';
