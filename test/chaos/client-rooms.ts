// What a chaos client received in each of its rooms: every message id once, in arrival order,
// with where it came from (a live `message` frame or a `joined` backlog, and on which replica),
// duplicates and out-of-order arrivals counted, and every message and event fed to the room's
// RoomModel (message-state.ts). `head` is the newest entry seen, message or event: the `since`
// of the next join. Never an ack id: an ack can overtake someone else's earlier message this
// client has not received yet, and resuming from it would skip that message.
import { compareIds } from '../../services/shared/ids.js';
import { RoomModel } from './message-state.js';

type Frame = Record<string, any>;

export interface Receipt {
  id: string;
  /** 'live': a `message` frame; 'joined': in a `joined` backlog. */
  via: 'live' | 'joined';
  replica: string;
  at: number;
  user: string;
  cid: string | null;
}

export interface RoomRecord {
  name: string;
  /** `joined` received on the current connection: sends may go out. */
  live: boolean;
  /** Newest id received from the room's stream: the `since` of the next join. */
  head: string | null;
  /** Distinct ids in arrival order. */
  ids: string[];
  receipts: Map<string, Receipt>;
  /** Frames carrying an id this client already had. */
  duplicates: number;
  /** New ids that arrived after a newer one. */
  outOfOrder: number;
  /** Joins answered (first and later). */
  joins: number;
  /** Joins with `since` answered recovered:true (a resume without gap). */
  resumes: number;
  /** Every message and event received, as message state. */
  model: RoomModel;
}

/** A join this client cannot prove gap-free. */
export interface GapRecord {
  room: string;
  since: string | null;
  replica: string;
  at: number;
  why: string;
}

export function newRoomRecord(name: string): RoomRecord {
  return { name, live: false, head: null, ids: [], receipts: new Map(), duplicates: 0, outOfOrder: 0, joins: 0, resumes: 0, model: new RoomModel(name) };
}

/** A `message` frame or a `joined` backlog message, received from `replica`. */
export function recordMessage(r: RoomRecord, m: Frame, via: Receipt['via'], replica: string): void {
  if (typeof m.id !== 'string') return;
  if (r.receipts.has(m.id)) {
    r.duplicates++;
    return;
  }
  r.model.message(m);
  if (r.head && compareIds(m.id, r.head) < 0) r.outOfOrder++;
  else r.head = m.id;
  r.ids.push(m.id);
  r.receipts.set(m.id, {
    id: m.id,
    via,
    replica,
    at: Date.now(),
    user: String(m.user?.id ?? ''),
    cid: typeof m.cid === 'string' ? m.cid : null,
  });
}

/** An event moves `since` forward like a message; the model dedups and counts it. */
export function recordEvent(r: RoomRecord, f: Frame): void {
  if (!r.model.event(f)) return;
  if (!r.head || compareIds(f.id, r.head) > 0) r.head = f.id;
}

/** The backlog of a `joined` frame (its `messages` and `events`), received from `replica`. */
export function recordBacklog(r: RoomRecord, f: Frame, replica: string): void {
  // Messages and events interleave on the room log: applied in id order, as they were appended.
  const messages = Array.isArray(f.messages) ? (f.messages as Frame[]) : [];
  const events = Array.isArray(f.events) ? (f.events as Frame[]).map((e): Frame => ({ ...e, type: 'event' })) : [];
  const entries = [...messages, ...events].sort((a, b) => compareIds(String(a.id), String(b.id)));
  for (const m of entries) {
    if (m.type === 'event') recordEvent(r, m);
    else recordMessage(r, m, 'joined', replica);
  }
}
