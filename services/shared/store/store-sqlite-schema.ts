// The SQLite store's baseline schema: migration 1 of sqlite-migrations.ts, the schema as it was
// when versioned migrations began, with its upgrade of files written before that. Every
// statement is idempotent (IF NOT EXISTS, columns added only when PRAGMA table_info lacks
// them), so a file of ANY unversioned schema (user_version 0) is upgraded in place and keeps its
// rows. FROZEN: a file at version 1 never runs this again, so a schema change is a new migration
// in sqlite-migrations.ts, never an edit here (nor to ATTACHMENT_SCHEMA or the search SCHEMA it
// runs) — sqlite-migrations.test.ts checks it still builds exactly the recorded schema.
//
// Messages are keyed (room, ms, seq) with INTEGER columns, so the primary-key index orders them
// numerically and paging is an index range scan. Changes made by room events live in their
// own tables keyed by the message they change, never in the message row: an event may be
// stored before its message (a claimed batch is not in id order), and a join at read time
// makes the order of arrival irrelevant.
//
// Membership (membership.ts): `memberships` holds each (room, user)'s state after the newest
// member event applied (its idSortKey is the row's `v`), `member_events` every member/room event
// applied once (whole, for history's system lines), and the room's own state (kind, title, topic, archived, owner, member count) and
// the sidebar's preview of its newest top-level message are columns of `rooms`, so "my rooms"
// reads one row per room.
//
// Attention (issue 15; store.ts "attention"): a top-level message keeps its room's counter value
// (`room_seq`: `seq` already names the id's sequence part here) and the room keeps the highest
// (`rooms.top_seq`), `user_rooms` one read position {read_id, read_seq} and mute flag per (user,
// room) — DMs included, which have no membership row —, `mentions` one row per (mentioned user,
// room, message) with the message's room_seq, so unread = top_seq - read_seq and mentions = an
// index range of the user's own rows past read_seq: nothing grows with the room's history.
// `notifications` is each user's inbox, keyed (user, room, source message).
import type Database from 'better-sqlite3';
import { PREVIEW_CHARS } from './store-common.js';
import { ATTACHMENT_SCHEMA } from './store-sqlite-files.js';
import { migrateSearch } from './store-sqlite-search.js';

// The room's own state and counters (membership.ts RoomChangeEvent), added to older files too.
// *_v columns hold the idSortKey of the newest event that set the field (created/topic for the
// topic, archived/unarchived for the flag, created for kind/title/created_at), so a late, older
// event changes nothing. last_* preview the newest stored top-level message.
const ROOM_STATE_COLUMNS: readonly [string, string][] = [
  ['kind', 'TEXT'],
  ['title', 'TEXT'],
  ['topic', "TEXT NOT NULL DEFAULT ''"],
  ['topic_v', 'TEXT'],
  ['archived', 'INTEGER NOT NULL DEFAULT 0'],
  ['archived_v', 'TEXT'],
  ['created_at', 'INTEGER'],
  ['created_v', 'TEXT'],
  ['member_count', 'INTEGER NOT NULL DEFAULT 0'],
  ['owner_id', 'TEXT'],
  ['last_ms', 'INTEGER'],
  ['last_seq', 'INTEGER'],
  ['last_user_id', 'TEXT'],
  ['last_user_name', 'TEXT'],
  ['last_text', 'TEXT'],
  ['last_ts', 'INTEGER'],
  // the highest room_seq of a stored top-level message (0: none, or none with a seq)
  ['top_seq', 'INTEGER NOT NULL DEFAULT 0'],
];

const TABLES = `
CREATE TABLE IF NOT EXISTS users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0,
  dnd           INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  family_id  TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER,
  revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family_id);
-- a user's families, when an operator disables the account (setUserDisabled)
CREATE INDEX IF NOT EXISTS refresh_tokens_user ON refresh_tokens(user_id);
CREATE TABLE IF NOT EXISTS messages (
  room      TEXT NOT NULL,
  ms        INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  id        TEXT NOT NULL,
  user_id   TEXT NOT NULL,
  user_name TEXT NOT NULL,
  text      TEXT NOT NULL,
  ts        INTEGER NOT NULL,
  cid       TEXT NOT NULL,
  -- a thread reply: its top-level parent's id (NULL for a top-level message)
  reply_ms  INTEGER,
  reply_seq INTEGER,
  -- a top-level message's room counter value (send.lua), and whom it mentions (','-joined)
  room_seq  INTEGER,
  mentions  TEXT,
  -- the files it carries: JSON [Attachment] (NULL for none); uploads: store-sqlite-files.ts
  attachments TEXT,
  PRIMARY KEY (room, ms, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rooms (
  name            TEXT PRIMARY KEY,
  last_message_at INTEGER,
  message_count   INTEGER NOT NULL DEFAULT 0,
  -- the two members of a DM room (NULL for a public room), so listRooms needs no name parsing
  member_a        TEXT,
  member_b        TEXT,
  ${ROOM_STATE_COLUMNS.map(([name, decl]) => `${name} ${decl}`).join(',\n  ')}
);
CREATE INDEX IF NOT EXISTS rooms_member_a ON rooms(member_a) WHERE member_a IS NOT NULL;
CREATE INDEX IF NOT EXISTS rooms_member_b ON rooms(member_b) WHERE member_b IS NOT NULL;
-- Every room event applied once: its primary key tells a new event from one already stored;
-- kind, target, user_id and cid tell a redelivery (the same event) from ANOTHER event under an
-- id Redis handed out twice (a conflict: reported, never applied).
CREATE TABLE IF NOT EXISTS events (
  room       TEXT NOT NULL,
  ms         INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  kind       TEXT NOT NULL,
  target_ms  INTEGER NOT NULL,
  target_seq INTEGER NOT NULL,
  user_id    TEXT NOT NULL,
  cid        TEXT NOT NULL,
  PRIMARY KEY (room, ms, seq)
) WITHOUT ROWID;
-- The edit/delete state of a message: (v_ms, v_seq) is the id of the newest edit or delete
-- applied (the message's version); text is the edited text (NULL once deleted).
CREATE TABLE IF NOT EXISTS changes (
  room      TEXT NOT NULL,
  ms        INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  v_ms      INTEGER NOT NULL,
  v_seq     INTEGER NOT NULL,
  text      TEXT,
  edited_at INTEGER,
  deleted   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (room, ms, seq)
) WITHOUT ROWID;
-- One row per (message, emoji, user), with the id of the newest toggle applied and its state.
-- Rows switched off stay: their version keeps an older, redelivered "on" from reviving them.
CREATE TABLE IF NOT EXISTS reactions (
  room       TEXT NOT NULL,
  target_ms  INTEGER NOT NULL,
  target_seq INTEGER NOT NULL,
  emoji      TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  active     INTEGER NOT NULL,
  v_ms       INTEGER NOT NULL,
  v_seq      INTEGER NOT NULL,
  PRIMARY KEY (room, target_ms, target_seq, emoji, user_id)
) WITHOUT ROWID;
-- A message's reactions as history shows them, less the viewer's own flag: JSON
-- [{"emoji","count"}] ordered by the oldest current reaction with each emoji. Recounted from the
-- reactions rows whenever one of them is toggled, so a page reads one row per message however
-- many people reacted (no row: no reactions).
CREATE TABLE IF NOT EXISTS reaction_summary (
  room      TEXT NOT NULL,
  ms        INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  reactions TEXT NOT NULL,
  PRIMARY KEY (room, ms, seq)
) WITHOUT ROWID;
-- the viewer's own current reactions on a page (each reaction's "me")
CREATE INDEX IF NOT EXISTS reactions_mine ON reactions(room, user_id, target_ms, target_seq) WHERE active = 1;
-- A parent's thread counters, recounted from the reply rows on every reply insert or delete.
CREATE TABLE IF NOT EXISTS threads (
  room          TEXT NOT NULL,
  parent_ms     INTEGER NOT NULL,
  parent_seq    INTEGER NOT NULL,
  reply_count   INTEGER NOT NULL,
  last_reply_at INTEGER,
  PRIMARY KEY (room, parent_ms, parent_seq)
) WITHOUT ROWID;
-- Every member and room event applied once (as events does for message events): kind, action,
-- user_id, cid and member_id tell a redelivery from another event under a reused id. body is
-- the whole event as JSON (MembershipLogEntry), and ms/seq its id as numbers, so history can
-- show it as a system line long after the capped room log dropped it (membershipEventsBetween).
-- Rows written before bodies were kept have none (NULL body, ms, seq) and are not listed.
CREATE TABLE IF NOT EXISTS member_events (
  room      TEXT NOT NULL,
  id        TEXT NOT NULL,
  kind      TEXT NOT NULL,
  action    TEXT NOT NULL,
  user_id   TEXT NOT NULL,
  cid       TEXT NOT NULL,
  member_id TEXT,
  ms        INTEGER,
  seq       INTEGER,
  body      TEXT,
  PRIMARY KEY (room, id)
) WITHOUT ROWID;
-- One row per (room, user) ever named by a member event: the state the newest one (v, its
-- idSortKey) left. rank orders a member list (0 owner, 1 admin, 2 member) and is NULL for
-- anyone who is not a member now (no role, or banned), so both partial indexes hold members
-- only. since is the ts of the newest joined/invited event (NULL until one is applied).
CREATE TABLE IF NOT EXISTS memberships (
  room        TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  username    TEXT NOT NULL,
  role        TEXT,
  rank        INTEGER,
  banned      INTEGER NOT NULL DEFAULT 0,
  muted_until INTEGER,
  since       INTEGER,
  v           TEXT NOT NULL,
  PRIMARY KEY (room, user_id)
) WITHOUT ROWID;
-- "my rooms" and a room's member list in order (owner, admins, members by name)
CREATE INDEX IF NOT EXISTS memberships_mine ON memberships(user_id, room) WHERE rank IS NOT NULL;
CREATE INDEX IF NOT EXISTS memberships_list ON memberships(room, rank, username) WHERE rank IS NOT NULL;
-- A user's read position in a room (max by read_seq; read_id NULL when a join set only the seq)
-- and whether they muted its notifications. A row exists once either was ever set.
CREATE TABLE IF NOT EXISTS user_rooms (
  user_id  TEXT NOT NULL,
  room     TEXT NOT NULL,
  read_id  TEXT,
  read_seq INTEGER NOT NULL DEFAULT 0,
  muted    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, room)
) WITHOUT ROWID;
-- receipts: a room's read positions, furthest first
CREATE INDEX IF NOT EXISTS user_rooms_reads ON user_rooms(room, read_seq DESC, user_id) WHERE read_id IS NOT NULL;
-- One row per (mentioned user, room, message); room_seq NULL for a reply (notified, never counted).
CREATE TABLE IF NOT EXISTS mentions (
  user_id  TEXT NOT NULL,
  room     TEXT NOT NULL,
  id       TEXT NOT NULL,
  room_seq INTEGER,
  PRIMARY KEY (user_id, room, id)
) WITHOUT ROWID;
-- a user's unread mentions in a room: the range room_seq > read_seq
CREATE INDEX IF NOT EXISTS mentions_unread ON mentions(user_id, room, room_seq) WHERE room_seq IS NOT NULL;
-- The inbox: one row per (user, room, source message or member event); source_ms/source_seq the
-- source id's parts, the inbox's order (newest first, then by room).
CREATE TABLE IF NOT EXISTS notifications (
  user_id    TEXT NOT NULL,
  room       TEXT NOT NULL,
  source_id  TEXT NOT NULL,
  source_ms  INTEGER NOT NULL,
  source_seq INTEGER NOT NULL,
  kind       TEXT NOT NULL,
  actor_id   TEXT NOT NULL,
  actor_name TEXT NOT NULL,
  text       TEXT NOT NULL,
  ts         INTEGER NOT NULL,
  is_read    INTEGER NOT NULL DEFAULT 0,
  reply_to   TEXT,
  PRIMARY KEY (user_id, room, source_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notifications_inbox ON notifications(user_id, source_ms, source_seq, room);
-- the unread ones: their count, their page, and "mark all read"
CREATE INDEX IF NOT EXISTS notifications_unread ON notifications(user_id, is_read, source_ms, source_seq, room);
`;

// After the column upgrade: these name columns an old messages or rooms table did not have.
const INDEXES = `
-- the public directory, most members first, walked in order and cut at the limit
CREATE INDEX IF NOT EXISTS rooms_directory ON rooms(kind, archived, member_count DESC, name);
-- top-level paging without stepping over thread replies
CREATE INDEX IF NOT EXISTS messages_top ON messages(room, ms, seq) WHERE reply_ms IS NULL;
-- a thread, oldest first, and its recount
CREATE INDEX IF NOT EXISTS messages_thread ON messages(room, reply_ms, reply_seq, ms, seq) WHERE reply_ms IS NOT NULL;
-- a room's membership events in id order, for history pages (only rows with a body)
CREATE INDEX IF NOT EXISTS member_events_log ON member_events(room, ms, seq) WHERE body IS NOT NULL;
-- GET /avatars/:id: is it someone's current avatar (profiles)
CREATE INDEX IF NOT EXISTS users_avatar ON users(avatar) WHERE avatar IS NOT NULL;
`;

/**
 * Columns added after a table's first release: [table, column, declaration]. Backfilled by
 * BACKFILL: rooms of an older file get their kind from their name and the preview of their
 * newest top-level message from the messages table. member_events rows of an older file keep
 * no body (they never held the event whole), so history simply does not list them. Messages of
 * an older file have no room_seq (they were sent before the counters): rooms start at top_seq 0
 * and count from their first message with a seq.
 */
const ADDED_COLUMNS: readonly [string, string, string][] = [
  ['users', 'disabled', 'INTEGER NOT NULL DEFAULT 0'],
  ['users', 'dnd', 'INTEGER NOT NULL DEFAULT 0'],
  ['users', 'display_name', 'TEXT'],
  ['users', 'avatar', 'TEXT'],
  // DELETE /api/me (store-sqlite-deletion.ts): when the account was deleted
  ['users', 'deleted_at', 'INTEGER'],
  ['messages', 'reply_ms', 'INTEGER'],
  ['messages', 'reply_seq', 'INTEGER'],
  ['messages', 'room_seq', 'INTEGER'],
  ['messages', 'mentions', 'TEXT'],
  ['messages', 'attachments', 'TEXT'],
  ['member_events', 'ms', 'INTEGER'],
  ['member_events', 'seq', 'INTEGER'],
  ['member_events', 'body', 'TEXT'],
  ['notifications', 'reply_to', 'TEXT'],
  ...ROOM_STATE_COLUMNS.map(([column, decl]): [string, string, string] => ['rooms', column, decl]),
];

// Idempotent: only rows a previous version wrote (kind NULL, or messages but no preview) change.
const BACKFILL = `
UPDATE rooms SET kind = CASE
  WHEN member_a IS NOT NULL THEN 'dm' WHEN name GLOB 'p:*' THEN 'private' WHEN name GLOB 'g:*' THEN 'group' ELSE 'public' END
WHERE kind IS NULL;
UPDATE rooms SET (last_ms, last_seq, last_user_id, last_user_name, last_text, last_ts) = (
  SELECT ms, seq, user_id, user_name, substr(text, 1, ${PREVIEW_CHARS}), ts FROM messages INDEXED BY messages_top
  WHERE room = rooms.name AND reply_ms IS NULL ORDER BY ms DESC, seq DESC LIMIT 1)
WHERE last_ms IS NULL AND message_count > 0;
`;

/**
 * Creates what is missing and upgrades an unversioned file in place. Run by migrateSqlite inside
 * its IMMEDIATE transaction (with the version bump), so an older file is upgraded whole or not at all.
 */
export function applyBaselineSchema(db: Database.Database): void {
  db.exec(TABLES);
  for (const [table, column, decl] of ADDED_COLUMNS) {
    const columns = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
    if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${decl}`);
  }
  db.exec(INDEXES);
  db.exec(ATTACHMENT_SCHEMA);
  db.exec(BACKFILL);
  // the search index (FTS5) and its triggers; filled from the messages of an older file once
  migrateSearch(db);
}
