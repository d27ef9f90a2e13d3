// The SQLite store's message search (store.ts searchMessages; the text rules in
// search-highlight.ts).
//
// `message_fts` is an FTS5 index of the EFFECTIVE text of every stored message, top-level and
// replies: the newest edit's text once edited, nothing once deleted. It is contentless (the text
// is in `messages`/`changes` already; contentless_delete lets a row be removed by rowid) and its
// rowids are `search_docs.docid`, which maps each indexed message's key (room, ms, seq) — messages
// are WITHOUT ROWID — and carries what the filters need (room, author, id), so a search reads
// neither `messages` nor `changes` until it has its page.
//
// Triggers keep both in step IN THE SAME TRANSACTION as the write that changes the text (the
// ingestion worker's batch): a message inserted, an edit or delete stored in `changes` (insert
// or update), a message row removed. The arrival order does not matter: an edit or delete may be
// stored before its message, so the message's insert trigger reads `changes` and indexes the
// edited text, or nothing for a deleted message; an edit's trigger indexes nothing while its
// message is not stored. A message with no text (attachments only) is not indexed.
//
// Tokenizer: unicode61 with remove_diacritics 2 (é = e, also for letters written as e + U+0301)
// and categories 'L* N* Co M*': the default categories leave out combining marks, which would cut
// words of scripts that write vowels as marks (Devanagari, Thai, Hebrew points) into pieces.
//
// The query is built from the words search-highlight.ts parseQuery found, each term a quoted
// FTS5 string (a prefix term followed by `*`): nothing of the user's text is FTS5 syntax. Rank:
// bm25 (more and rarer matches in shorter messages first), then newest first — among the newest
// SEARCH_RANK_WINDOW matches the viewer may read (after the filters). bm25 costs a lookup per
// match, so ranking every match of a common word ("the": most of a million messages) would take
// the better part of a second, on the users service's thread; walking the matches newest first
// (FTS5 reads a doclist in rowid order, and docids grow with time) and stopping at the window
// bounds that, and a query with fewer matches is ranked whole.
import type Database from 'better-sqlite3';
import { parseId } from '../ids.js';
import { highlights, parseQuery, type SearchTerm } from './search-highlight.js';
import type { HistoryMessage, SearchHit, SearchQuery } from './store.js';

/** The FTS5 tokenizer (search-highlight.ts cuts words the same way; its test checks). */
export const TOKENIZE = `unicode61 remove_diacritics 2 categories 'L* N* Co M*'`;

// The effective text of message (room, ms, seq) = r: the edit's text, '' once deleted, else the
// message's own. `changes` has one row per changed message (its primary key).
const CHANGED_TEXT = (r: string) =>
  `(SELECT CASE WHEN deleted = 1 THEN '' ELSE text END FROM changes WHERE room = ${r}.room AND ms = ${r}.ms AND seq = ${r}.seq)`;
const DOC_OF = (r: string) => `SELECT docid FROM search_docs WHERE room = ${r}.room AND ms = ${r}.ms AND seq = ${r}.seq`;

/** Re-indexes message NEW.(room, ms, seq) after its `changes` row was written: NEW.text, or nothing once deleted. */
const REINDEX_CHANGED = `
  DELETE FROM message_fts WHERE rowid = (${DOC_OF('NEW')});
  DELETE FROM search_docs WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq;
  INSERT INTO search_docs (room, ms, seq, user_id)
    SELECT room, ms, seq, user_id FROM messages
    WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq AND NEW.deleted = 0 AND NEW.text <> '';
  INSERT INTO message_fts (rowid, text) SELECT docid, NEW.text FROM search_docs WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq;`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS search_docs (
  docid   INTEGER PRIMARY KEY,
  room    TEXT NOT NULL,
  ms      INTEGER NOT NULL,
  seq     INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  UNIQUE (room, ms, seq)
);
CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5(
  text, content = '', contentless_delete = 1, tokenize = "${TOKENIZE}"
);
-- the rooms a viewer is banned from (search leaves them out; rank is NULL on those rows, so
-- memberships_mine does not list them)
CREATE INDEX IF NOT EXISTS memberships_banned ON memberships(user_id, room) WHERE banned = 1;
CREATE TRIGGER IF NOT EXISTS search_message_insert AFTER INSERT ON messages BEGIN
  INSERT INTO search_docs (room, ms, seq, user_id)
    SELECT NEW.room, NEW.ms, NEW.seq, NEW.user_id WHERE COALESCE(${CHANGED_TEXT('NEW')}, NEW.text) <> '';
  INSERT INTO message_fts (rowid, text)
    SELECT docid, COALESCE(${CHANGED_TEXT('NEW')}, NEW.text) FROM search_docs
    WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq;
END;
CREATE TRIGGER IF NOT EXISTS search_message_delete AFTER DELETE ON messages BEGIN
  DELETE FROM message_fts WHERE rowid = (${DOC_OF('OLD')});
  DELETE FROM search_docs WHERE room = OLD.room AND ms = OLD.ms AND seq = OLD.seq;
END;
CREATE TRIGGER IF NOT EXISTS search_change_insert AFTER INSERT ON changes BEGIN ${REINDEX_CHANGED}
END;
CREATE TRIGGER IF NOT EXISTS search_change_update AFTER UPDATE ON changes BEGIN ${REINDEX_CHANGED}
END;
`;

// Run once, when the index is created in a file that already holds messages (an older file).
const BACKFILL = `
INSERT INTO search_docs (room, ms, seq, user_id)
  SELECT m.room, m.ms, m.seq, m.user_id FROM messages m
  WHERE COALESCE(${CHANGED_TEXT('m')}, m.text) <> '';
INSERT INTO message_fts (rowid, text)
  SELECT d.docid, COALESCE(${CHANGED_TEXT('m')}, m.text) FROM search_docs d
  JOIN messages m ON m.room = d.room AND m.ms = d.ms AND m.seq = d.seq;
`;

/** The newest matches ranked by a search (see above): past this, older matches are not considered. */
export const SEARCH_RANK_WINDOW = 5_000;

/** The trigger names (the bench measures ingestion without them). */
export const SEARCH_TRIGGERS = ['search_message_insert', 'search_message_delete', 'search_change_insert', 'search_change_update'] as const;

/**
 * Creates the index, its table and triggers when missing (store-sqlite-schema.ts
 * applyBaselineSchema — migration 1, frozen: change them through a new migration — inside its
 * transaction). A file without them gets them filled from its messages in that same
 * transaction, so the backfill happens once, whole or not at all.
 */
export function migrateSearch(db: Database.Database): void {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'message_fts'").get() !== undefined;
  db.exec(SCHEMA);
  if (!exists) db.exec(BACKFILL);
}

/** An FTS5 MATCH expression of the terms: each a quoted string (inner quotes doubled), all required. */
export function ftsExpression(terms: readonly SearchTerm[]): string {
  return terms.map((t) => `"${t.words.join(' ').replace(/"/g, '""')}"${t.prefix ? ' *' : ''}`).join(' AND ');
}

interface HitRow {
  room: string;
  id: string;
  rank: number;
}

// The rooms the viewer may read (SearchQuery.viewerId; users/room-changes.ts assertReadable):
// a public room (no ':' in its name) unless banned from it; any other room only by a role
// (private rooms, groups) or as one of a DM's two users. Both subqueries run once per search.
const SEARCH = `
SELECT room, ms || '-' || seq AS id, rank FROM (
SELECT d.room, d.ms, d.seq, f.rank
FROM message_fts f JOIN search_docs d ON d.docid = f.rowid
WHERE message_fts MATCH @match
  AND CASE WHEN instr(d.room, ':') = 0
    THEN d.room NOT IN (SELECT room FROM memberships INDEXED BY memberships_banned WHERE user_id = @viewer AND banned = 1)
    ELSE d.room IN (
      SELECT room FROM memberships INDEXED BY memberships_mine WHERE user_id = @viewer AND rank IS NOT NULL
      UNION ALL SELECT name FROM rooms WHERE member_a = @viewer
      UNION ALL SELECT name FROM rooms WHERE member_b = @viewer)
    END
  AND (@room IS NULL OR d.room = @room)
  AND (@from IS NULL OR d.user_id = @from)
  AND (@beforeMs IS NULL OR (d.ms, d.seq) < (@beforeMs, @beforeSeq))
ORDER BY f.rowid DESC LIMIT ${SEARCH_RANK_WINDOW})
ORDER BY rank, ms DESC, seq DESC, room
LIMIT @limit OFFSET @offset`;

type Hydrate = (room: string, id: string, viewerId: string) => HistoryMessage | null;

export class SqliteSearch {
  private readonly run;

  /** `one`: a message in its current state as history shows it (store-sqlite-messages.ts). */
  constructor(db: Database.Database, one: Hydrate) {
    const stmt = db.prepare<Record<string, unknown>, HitRow>(SEARCH);
    // One read transaction: the page and the messages it names are of the same moment, even
    // while an ingestion worker (another connection) commits.
    this.run = db.transaction((q: SearchQuery, terms: SearchTerm[]): SearchHit[] => {
      const before = q.beforeId === undefined ? null : parseId(q.beforeId);
      const rows = stmt.all({
        match: ftsExpression(terms),
        viewer: q.viewerId,
        room: q.room ?? null,
        from: q.fromUserId ?? null,
        beforeMs: before?.ms ?? null,
        beforeSeq: before === null ? null : before.seq,
        limit: q.limit,
        offset: Math.max(0, q.offset),
      });
      const hits: SearchHit[] = [];
      for (const r of rows) {
        const message = one(r.room, r.id, q.viewerId);
        if (message === null || message.deleted) continue;
        hits.push({ message, highlights: highlights(message.text, terms), score: -r.rank });
      }
      return hits;
    });
  }

  search(q: SearchQuery): SearchHit[] {
    const terms = parseQuery(q.q);
    if (terms.length === 0 || q.limit <= 0) return [];
    return this.run(q, terms);
  }
}
