// The store's file and search types (issue 16; DESIGN.md "Files", "Search"), apart from store.ts
// so the interface file stays readable. store.ts re-exports them: import them from there.
import type { Attachment } from '../attachments.js';
import type { HistoryMessage } from './store.js';

/**
 * One upload as the store keeps it: the Attachment a message shows, plus where and by whom.
 * Written by the users service when the upload is stored; linked to its message by ingestion
 * (the message's `attachments`), in the same transaction as the message.
 */
export interface StoredAttachment extends Attachment {
  room: string;
  ownerId: string;
  /** Key of the (EXIF-stripped) file in the FileStorage; the thumbnail's is thumbKey. */
  storageKey: string;
  thumbKey?: string;
  createdAt: number;
  /** The message that names it, once stored; unset: not (yet) sent — only its owner may read it. */
  messageId?: string;
}

export interface SearchQuery {
  /**
   * The caller: only rooms they may read are searched — every public room they are not banned
   * from, the private rooms and groups where they have a role (not banned), their DMs
   * (users/room-changes.ts assertReadable is the same rule for one room). Never anything else.
   */
  viewerId: string;
  /** Words, "quoted phrases" and prefix* terms, all required; the adapters tokenise it (unicode-aware). */
  q: string;
  /** Only this room (the route has checked the caller may read it). */
  room?: string;
  /** Only messages by this user id. */
  fromUserId?: string;
  /** Only messages with an id below this one (e.g. "before this date": `<ms>-0`). */
  beforeId?: string;
  /** Paging: results [offset, offset + limit) of the ranked list. */
  offset: number;
  limit: number;
}

export interface SearchHit {
  message: HistoryMessage;
  /**
   * Where the query matched in message.text: [start, end) UTF-16 offsets, ascending, not
   * overlapping. The client builds the highlight from them with textContent; never HTML.
   */
  highlights: [number, number][];
  /** The adapter's relevance (higher is better); comparable only within one answer. */
  score: number;
}
