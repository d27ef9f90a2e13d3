// Shared by the notify worker tests: a cast of users and rooms set up in a real store the way the
// users service leaves them (users, membership events applied), ingest entries written the way
// the chat scripts write them (message.ts ingestEntryFields / membership.ts membershipFields),
// and reading back a user's whole inbox and the notify group's progress.
import type { Redis } from 'ioredis';
import { INGEST_GROUP, type Keys } from '../../services/shared/keys.js';
import { membershipFields, type MembershipEvent, type Role } from '../../services/shared/membership.js';
import { ingestEntryFields, type ChatMessage, type ChatUser } from '../../services/shared/message.js';
import { fieldRecord } from '../../services/shared/redis.js';
import { dmRoomName } from '../../services/shared/rooms.js';
import type { AppNotification, Store } from '../../services/shared/store/store.js';
import { NOTIFY_GROUP } from '../../services/notify/worker.js';

export const PRIV = 'p:notifyroom000000';
export const GROUP = 'g:notifygroup00000';

export interface Cast {
  alice: ChatUser;
  bob: ChatUser;
  carol: ChatUser;
  dave: ChatUser;
  erin: ChatUser;
  /** alice and bob's DM. */
  dm: string;
}

/** Message/event ids: increasing, in the past (the store orders by them), unique per run. */
let nextMs = Date.now() - 3_600_000;
export function nextId(): string {
  return `${++nextMs}-0`;
}

/**
 * alice (owner), bob, carol and dave are members of PRIV; erin is not. alice, bob and carol
 * form GROUP. carol is in DND; dave muted PRIV.
 */
export async function setupCast(store: Store): Promise<Cast> {
  const make = async (name: string): Promise<ChatUser> => {
    const u = await store.createUser({ username: `${name}${Math.random().toString(36).slice(2, 8)}`, passwordHash: 'x' });
    return { id: u.id, name: u.username };
  };
  const [alice, bob, carol, dave, erin] = [await make('alice'), await make('bob'), await make('carol'), await make('dave'), await make('erin')];
  const ev = (room: string, action: MembershipEvent['action'], who: ChatUser, role: Role, by: ChatUser = who): MembershipEvent => {
    const id = nextId();
    return { kind: 'member', id, room, user: by, ts: Number(id.split('-')[0]), cid: `c${id}`, action, member: who, role };
  };
  await store.applyMembershipEvents([
    ev(PRIV, 'joined', alice, 'owner'),
    ev(PRIV, 'invited', bob, 'member', alice),
    ev(PRIV, 'invited', carol, 'member', alice),
    ev(PRIV, 'invited', dave, 'member', alice),
    ev(GROUP, 'joined', alice, 'owner'),
    ev(GROUP, 'invited', bob, 'member', alice),
    ev(GROUP, 'invited', carol, 'member', alice),
  ]);
  await store.setDnd(carol.id, true);
  await store.setRoomMuted(dave.id, PRIV, true);
  return { alice, bob, carol, dave, erin, dm: dmRoomName(alice.id, bob.id) };
}

export function message(room: string, user: ChatUser, text: string, extra: Partial<ChatMessage> = {}): ChatMessage {
  const id = nextId();
  return { id, room, user, text, ts: Number(id.split('-')[0]), cid: `c${id}`, ...extra };
}

export function invite(room: string, by: ChatUser, who: ChatUser): MembershipEvent {
  const id = nextId();
  return { kind: 'member', id, room, user: by, ts: Number(id.split('-')[0]), cid: `c${id}`, action: 'invited', member: who, role: 'member' };
}

/** XADDs each message's ingest entry (pipelined). */
export async function produceMessages(redis: Redis, keys: Keys, messages: readonly ChatMessage[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 500) {
    const pipe = redis.pipeline();
    for (const m of messages.slice(i, i + 500)) pipe.xadd(keys.ingestStreamOfRoom(m.room), '*', ...ingestEntryFields(m));
    await pipe.exec();
  }
}

export async function produceMemberEvent(redis: Redis, keys: Keys, e: MembershipEvent): Promise<void> {
  await redis.xadd(keys.ingestStreamOfRoom(e.room), '*', 'room', e.room, 'id', e.id, ...membershipFields(e));
}

/**
 * As if storage had stored and acked everything written so far (the notifier trails the
 * storage group: services/notify/stored.ts): its group at the end of every stream.
 */
export async function markStored(redis: Redis, keys: Keys): Promise<void> {
  for (const s of keys.allIngestStreams()) {
    try {
      await redis.xgroup('CREATE', s, INGEST_GROUP, '$', 'MKSTREAM');
    } catch {
      await redis.xgroup('SETID', s, INGEST_GROUP, '$');
    }
  }
}

/** A user's whole inbox, newest first. */
export async function inbox(store: Store, userId: string): Promise<AppNotification[]> {
  const all: AppNotification[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await store.notifications(userId, { limit: 100, ...(before !== undefined && { beforeId: before }) });
    all.push(...page);
    if (page.length < 100) return all;
    before = page[page.length - 1]!.id;
  }
}

/** The notify group has been handed every entry of every stream and acked them all. */
export async function notifyDone(redis: Redis, keys: Keys): Promise<boolean> {
  for (const stream of keys.allIngestStreams()) {
    const info = fieldRecord(((await redis.xinfo('STREAM', stream).catch(() => null)) as string[] | null) ?? []);
    if (info['last-generated-id'] === undefined) continue;
    const groups = ((await redis.xinfo('GROUPS', stream).catch(() => [])) as string[][]).map((g) => fieldRecord(g));
    const g = groups.find((x) => x.name === NOTIFY_GROUP);
    if (!g || g['last-delivered-id'] !== info['last-generated-id'] || Number(g.pending) !== 0) return false;
  }
  return true;
}

/** Pending entries of the notify group for one consumer, over every stream. */
export async function notifyPending(redis: Redis, keys: Keys, consumer: string): Promise<number> {
  let n = 0;
  for (const stream of keys.allIngestStreams()) {
    const summary = (await redis.xpending(stream, NOTIFY_GROUP).catch(() => [0, null, null, null])) as [number, unknown, unknown, [string, string][] | null];
    for (const [c, count] of summary[3] ?? []) if (c === consumer) n += Number(count);
  }
  return n;
}
