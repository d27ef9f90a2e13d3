// The MongoDB store's message search (store.ts searchMessages; the text rules in
// search-highlight.ts, shared with SQLite).
//
//   search_docs  _id = `${room}|${id}`: one per stored message (top-level and replies) with its
//                room, ms, seq, author, `v` (the version of the text indexed: '' for the
//                message's own, else idSortKey of the newest edit applied), `deleted` (final),
//                and `words` — the effective text's words folded (foldedText: ` creme brulee `),
//                absent once deleted or when the message has no text. A text index
//                (default_language 'none': no stemming, no stop words) covers `words`.
//
// Without transactions the documents are written after the write they follow (insertMessages,
// applyEvents: store-mongo.ts), from the state then stored (message + its `changes` document),
// for every message or event of the batch that is not a conflict, redelivered ones included — a
// first delivery may have died between the two writes, and the stream redelivers until the
// worker acks. The write is an update pipeline guarded like the changes it follows: the text
// of a newer version wins whatever the order two workers write in, and a delete is final (a
// stale read can never bring a deleted message back). A message's sync reads its change and an
// event's sync reads its message, each after its own write, so whichever comes second sees both.
//
// Query: every term is a phrase of folded words between spaces (`" new york "`): MongoDB ANDs
// phrases and matches them as substrings of `words`, so the spaces make them whole words; the
// same text as a regex on `words` makes sure of it. A prefix term is a regex only (` broc` on
// ` eat broccoli `); a query of prefix terms only has no $text, and then no textScore: newest
// first, over the readable rooms' documents (no index narrows it). Rank: textScore, then newest.
import { Schema, type Connection, type Model, type mongo } from 'mongoose';
import type { ChatMessage, RoomEvent } from '../message.js';
import { foldedText, highlights, parseQuery, type SearchTerm } from './search-highlight.js';
import { idKey, MESSAGE_WRITE_CONCERN, type ChangeDoc, type MessageDoc, type RoomDoc, type MembershipDoc } from './store-mongo-schemas.js';
import type { HistoryMessage, SearchHit, SearchQuery } from './store.js';

export interface SearchDoc {
  _id: string;
  room: string;
  ms: number;
  seq: number;
  userId: string;
  v: string;
  deleted: boolean;
  words?: string;
}

export const searchDocSchema = new Schema<SearchDoc>(
  {
    _id: { type: String, required: true },
    room: String,
    ms: Number,
    seq: Number,
    userId: String,
    v: String,
    deleted: Boolean,
    words: { type: String, default: undefined },
  },
  // the ingestion worker acks after this write too: as durable as the messages; indexes:
  // mongo-migrations.ts (declared here too, checked against it; see store-mongo-schemas.ts)
  { versionKey: false, autoIndex: false, autoCreate: false, writeConcern: MESSAGE_WRITE_CONCERN, collection: 'search_docs' },
);
searchDocSchema.index({ words: 'text' }, { name: 'search_words', default_language: 'none', language_override: 'searchLanguage' });
// prefix-only queries (no $text): a room's newest first
searchDocSchema.index({ room: 1, ms: -1, seq: -1 });

const docKey = (room: string, id: string) => `${room}|${id}`;
const driver = <T extends mongo.Document>(model: Model<T>) => model.collection as unknown as mongo.Collection<T>;
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What one message's search document should say now. */
interface SearchState {
  _id: string;
  room: string;
  ms: number;
  seq: number;
  userId: string;
  v: string;
  deleted: boolean;
  words: string;
}

/** The guarded write of a search document (exported to check it without a server): user text only inside $literal. */
export function searchUpdate(s: SearchState): mongo.Document[] {
  const gone = { $or: [{ $eq: ['$deleted', true] }, { $literal: s.deleted }] };
  const newer = { $lte: [{ $ifNull: ['$v', ''] }, { $literal: s.v }] };
  return [
    {
      $set: {
        room: { $literal: s.room },
        ms: { $literal: s.ms },
        seq: { $literal: s.seq },
        userId: { $literal: s.userId },
        words: { $cond: [gone, '$$REMOVE', { $cond: [newer, s.words === '' ? '$$REMOVE' : { $literal: s.words }, '$words'] }] },
        v: { $cond: [newer, { $literal: s.v }, '$v'] },
        deleted: gone,
      },
    },
  ];
}

type Hydrate = (room: string, id: string, viewerId: string) => Promise<HistoryMessage | null>;

export class MongoSearch {
  readonly docs: Model<SearchDoc>;
  private readonly messages: Model<MessageDoc>;
  private readonly changes: Model<ChangeDoc>;
  private readonly rooms: Model<RoomDoc>;
  private readonly memberships: Model<MembershipDoc>;

  /** Built after the message and membership models are registered on `conn` (store-mongo.ts). */
  constructor(conn: Connection, private readonly one: Hydrate) {
    this.docs = conn.model<SearchDoc>('SearchDoc', searchDocSchema);
    this.messages = conn.model<MessageDoc>('Message');
    this.changes = conn.model<ChangeDoc>('Change');
    this.rooms = conn.model<RoomDoc>('Room');
    this.memberships = conn.model<MembershipDoc>('Membership');
  }

  async init(): Promise<void> {
    await this.docs.init();
  }

  /** After insertMessages: the messages of the batch that are stored (not conflicts). */
  async onInserted(messages: readonly ChatMessage[]): Promise<void> {
    await this.sync(messages.map((m) => docKey(m.room, m.id)));
  }

  /** After applyEvents: the edits and deletes of the batch that are not conflicts. */
  async onEvents(events: readonly RoomEvent[]): Promise<void> {
    await this.sync(events.filter((e) => e.kind === 'edit' || e.kind === 'delete').map((e) => docKey(e.room, e.target)));
  }

  /** Rewrites the search documents of these messages from their stored state (a message not stored yet: nothing). */
  private async sync(keys: string[]): Promise<void> {
    const ids = [...new Set(keys)];
    if (ids.length === 0) return;
    const [stored, changes] = await Promise.all([
      this.messages.find({ _id: { $in: ids } }, { room: 1, ms: 1, seq: 1, userId: 1, text: 1 }).lean<Pick<MessageDoc, '_id' | 'room' | 'ms' | 'seq' | 'userId' | 'text'>[]>(),
      this.changes.find({ _id: { $in: ids } }).lean<ChangeDoc[]>(),
    ]);
    if (stored.length === 0) return;
    const changeOf = new Map(changes.map((c) => [c._id, c]));
    const ops: mongo.AnyBulkWriteOperation<SearchDoc>[] = stored.map((m) => {
      const c = changeOf.get(m._id);
      const deleted = c?.deleted === true;
      const edited = c !== undefined && !deleted && typeof c.text === 'string';
      const state: SearchState = {
        _id: m._id,
        room: m.room,
        ms: m.ms,
        seq: m.seq,
        userId: m.userId,
        v: edited ? c.v : '',
        deleted,
        words: deleted ? '' : foldedText(edited ? (c.text as string) : m.text),
      };
      return { updateOne: { filter: { _id: m._id }, update: searchUpdate(state), upsert: true } };
    });
    await driver(this.docs).bulkWrite(ops, { ordered: false, writeConcern: MESSAGE_WRITE_CONCERN });
  }

  async search(q: SearchQuery): Promise<SearchHit[]> {
    const terms = parseQuery(q.q);
    if (terms.length === 0 || q.limit <= 0) return [];
    const filter: mongo.Filter<SearchDoc> = { $and: [await this.readable(q.viewerId), { deleted: { $ne: true } }] };
    const exact = terms.filter((t) => !t.prefix);
    if (exact.length > 0) {
      filter.$text = { $search: exact.map((t) => `" ${t.keys.join(' ')} "`).join(' '), $language: 'none', $caseSensitive: false, $diacriticSensitive: false };
    }
    // Every term also as a regex on the padded words: the $text finds candidates through the
    // index (and scores them); this makes "whole words, in order" exact whatever MongoDB does with
    // the spaces of a phrase. A prefix term is only this (no trailing space).
    for (const t of terms) filter.$and!.push({ words: { $regex: escapeRegex(` ${t.keys.join(' ')}${t.prefix ? '' : ' '}`) } });
    if (q.room !== undefined) filter.room = q.room;
    if (q.fromUserId !== undefined) filter.userId = q.fromUserId;
    if (q.beforeId !== undefined) {
      const { ms, seq } = idKey(q.beforeId);
      filter.$and!.push({ $or: [{ ms: { $lt: ms } }, { ms, seq: { $lt: seq } }] });
    }
    const scored = exact.length > 0;
    const rows = await driver(this.docs)
      .find(filter, { projection: { room: 1, ms: 1, seq: 1, ...(scored && { score: { $meta: 'textScore' } }) } })
      .sort(scored ? { score: { $meta: 'textScore' }, ms: -1, seq: -1, room: 1 } : { ms: -1, seq: -1, room: 1 })
      .skip(Math.max(0, q.offset))
      .limit(q.limit)
      .toArray();
    const hits = await Promise.all(rows.map((r) => this.hit(r as SearchDoc & { score?: number }, q.viewerId, terms)));
    return hits.filter((h): h is SearchHit => h !== null);
  }

  private async hit(r: SearchDoc & { score?: number }, viewerId: string, terms: SearchTerm[]): Promise<SearchHit | null> {
    const message = await this.one(r.room, `${r.ms}-${r.seq}`, viewerId);
    if (message === null || message.deleted) return null;
    return { message, highlights: highlights(message.text, terms), score: r.score ?? 0 };
  }

  /**
   * The rooms the viewer may read (SearchQuery.viewerId; users/room-changes.ts assertReadable):
   * a public room (no ':' in its name) unless banned from it; any other room by a role (private
   * rooms, groups) or as one of a DM's two users.
   */
  private async readable(viewerId: string): Promise<mongo.Filter<SearchDoc>> {
    const [roles, banned, dms] = await Promise.all([
      this.memberships.find({ userId: viewerId, rank: { $ne: null } }, { room: 1 }).lean<{ room: string }[]>(),
      this.memberships.find({ userId: viewerId, banned: true }, { room: 1 }).lean<{ room: string }[]>(),
      this.rooms.find({ members: viewerId }, { _id: 1 }).lean<{ _id: string }[]>(),
    ]);
    const mine = [...roles.map((r) => r.room).filter((room) => room.includes(':')), ...dms.map((d) => d._id)];
    return {
      $or: [
        { room: { $in: mine } },
        { room: { $regex: '^[^:]+$', $nin: banned.map((b) => b.room) } },
      ],
    };
  }
}
