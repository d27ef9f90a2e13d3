-- The schema of an AuroraChat SQLite store file exactly as the code before versioned migrations
-- left it (user_version 0), recorded from sqlite_master of a file that code created (commit
-- 5e7ffec, store-sqlite-schema.ts migrate()). FTS5 shadow tables are left out: CREATE VIRTUAL
-- TABLE makes them. sqlite-migrations.test.ts builds an "old" file from this; never edit it.
CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0,
  dnd           INTEGER NOT NULL DEFAULT 0
, display_name TEXT, avatar TEXT, deleted_at INTEGER);
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  family_id  TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER,
  revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
CREATE TABLE messages (
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
CREATE TABLE rooms (
  name            TEXT PRIMARY KEY,
  last_message_at INTEGER,
  message_count   INTEGER NOT NULL DEFAULT 0,
  -- the two members of a DM room (NULL for a public room), so listRooms needs no name parsing
  member_a        TEXT,
  member_b        TEXT,
  kind TEXT,
  title TEXT,
  topic TEXT NOT NULL DEFAULT '',
  topic_v TEXT,
  archived INTEGER NOT NULL DEFAULT 0,
  archived_v TEXT,
  created_at INTEGER,
  created_v TEXT,
  member_count INTEGER NOT NULL DEFAULT 0,
  owner_id TEXT,
  last_ms INTEGER,
  last_seq INTEGER,
  last_user_id TEXT,
  last_user_name TEXT,
  last_text TEXT,
  last_ts INTEGER,
  top_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rooms_member_a ON rooms(member_a) WHERE member_a IS NOT NULL;
CREATE INDEX rooms_member_b ON rooms(member_b) WHERE member_b IS NOT NULL;
CREATE TABLE events (
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
CREATE TABLE changes (
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
CREATE TABLE reactions (
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
CREATE TABLE reaction_summary (
  room      TEXT NOT NULL,
  ms        INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  reactions TEXT NOT NULL,
  PRIMARY KEY (room, ms, seq)
) WITHOUT ROWID;
CREATE INDEX reactions_mine ON reactions(room, user_id, target_ms, target_seq) WHERE active = 1;
CREATE TABLE threads (
  room          TEXT NOT NULL,
  parent_ms     INTEGER NOT NULL,
  parent_seq    INTEGER NOT NULL,
  reply_count   INTEGER NOT NULL,
  last_reply_at INTEGER,
  PRIMARY KEY (room, parent_ms, parent_seq)
) WITHOUT ROWID;
CREATE TABLE member_events (
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
CREATE TABLE memberships (
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
CREATE INDEX memberships_mine ON memberships(user_id, room) WHERE rank IS NOT NULL;
CREATE INDEX memberships_list ON memberships(room, rank, username) WHERE rank IS NOT NULL;
CREATE TABLE user_rooms (
  user_id  TEXT NOT NULL,
  room     TEXT NOT NULL,
  read_id  TEXT,
  read_seq INTEGER NOT NULL DEFAULT 0,
  muted    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, room)
) WITHOUT ROWID;
CREATE INDEX user_rooms_reads ON user_rooms(room, read_seq DESC, user_id) WHERE read_id IS NOT NULL;
CREATE TABLE mentions (
  user_id  TEXT NOT NULL,
  room     TEXT NOT NULL,
  id       TEXT NOT NULL,
  room_seq INTEGER,
  PRIMARY KEY (user_id, room, id)
) WITHOUT ROWID;
CREATE INDEX mentions_unread ON mentions(user_id, room, room_seq) WHERE room_seq IS NOT NULL;
CREATE TABLE notifications (
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
CREATE INDEX notifications_inbox ON notifications(user_id, source_ms, source_seq, room);
CREATE INDEX notifications_unread ON notifications(user_id, is_read, source_ms, source_seq, room);
CREATE INDEX rooms_directory ON rooms(kind, archived, member_count DESC, name);
CREATE INDEX messages_top ON messages(room, ms, seq) WHERE reply_ms IS NULL;
CREATE INDEX messages_thread ON messages(room, reply_ms, reply_seq, ms, seq) WHERE reply_ms IS NOT NULL;
CREATE INDEX member_events_log ON member_events(room, ms, seq) WHERE body IS NOT NULL;
CREATE INDEX users_avatar ON users(avatar) WHERE avatar IS NOT NULL;
CREATE TABLE attachments (
  id          TEXT PRIMARY KEY,
  room        TEXT NOT NULL,
  owner_id    TEXT NOT NULL,
  name        TEXT NOT NULL,
  type        TEXT NOT NULL,
  size        INTEGER NOT NULL,
  width       INTEGER,
  height      INTEGER,
  thumb       INTEGER NOT NULL DEFAULT 0,
  storage_key TEXT NOT NULL,
  thumb_key   TEXT,
  created_at  INTEGER NOT NULL,
  -- the message that names it (NULL until a stored message does)
  message_ms  INTEGER,
  message_seq INTEGER,
  -- 1 once that message is deleted: collectable at once
  gone        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX attachments_owner ON attachments(owner_id, size);
CREATE INDEX attachments_collectable ON attachments(created_at, id) WHERE message_ms IS NULL OR gone = 1;
CREATE INDEX attachments_message ON attachments(room, message_ms, message_seq) WHERE message_ms IS NOT NULL;
CREATE TRIGGER attachments_gone_on_insert AFTER INSERT ON changes WHEN new.deleted = 1 BEGIN
  UPDATE attachments SET gone = 1 WHERE room = new.room AND message_ms = new.ms AND message_seq = new.seq;
END;
CREATE TRIGGER attachments_gone_on_update AFTER UPDATE OF deleted ON changes
WHEN new.deleted = 1 AND old.deleted = 0 BEGIN
  UPDATE attachments SET gone = 1 WHERE room = new.room AND message_ms = new.ms AND message_seq = new.seq;
END;
CREATE TABLE search_docs (
  docid   INTEGER PRIMARY KEY,
  room    TEXT NOT NULL,
  ms      INTEGER NOT NULL,
  seq     INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  UNIQUE (room, ms, seq)
);
CREATE VIRTUAL TABLE message_fts USING fts5(
  text, content = '', contentless_delete = 1, tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
);
CREATE INDEX memberships_banned ON memberships(user_id, room) WHERE banned = 1;
CREATE TRIGGER search_message_insert AFTER INSERT ON messages BEGIN
  INSERT INTO search_docs (room, ms, seq, user_id)
    SELECT NEW.room, NEW.ms, NEW.seq, NEW.user_id WHERE COALESCE((SELECT CASE WHEN deleted = 1 THEN '' ELSE text END FROM changes WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq), NEW.text) <> '';
  INSERT INTO message_fts (rowid, text)
    SELECT docid, COALESCE((SELECT CASE WHEN deleted = 1 THEN '' ELSE text END FROM changes WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq), NEW.text) FROM search_docs
    WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq;
END;
CREATE TRIGGER search_message_delete AFTER DELETE ON messages BEGIN
  DELETE FROM message_fts WHERE rowid = (SELECT docid FROM search_docs WHERE room = OLD.room AND ms = OLD.ms AND seq = OLD.seq);
  DELETE FROM search_docs WHERE room = OLD.room AND ms = OLD.ms AND seq = OLD.seq;
END;
CREATE TRIGGER search_change_insert AFTER INSERT ON changes BEGIN 
  DELETE FROM message_fts WHERE rowid = (SELECT docid FROM search_docs WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq);
  DELETE FROM search_docs WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq;
  INSERT INTO search_docs (room, ms, seq, user_id)
    SELECT room, ms, seq, user_id FROM messages
    WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq AND NEW.deleted = 0 AND NEW.text <> '';
  INSERT INTO message_fts (rowid, text) SELECT docid, NEW.text FROM search_docs WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq;
END;
CREATE TRIGGER search_change_update AFTER UPDATE ON changes BEGIN 
  DELETE FROM message_fts WHERE rowid = (SELECT docid FROM search_docs WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq);
  DELETE FROM search_docs WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq;
  INSERT INTO search_docs (room, ms, seq, user_id)
    SELECT room, ms, seq, user_id FROM messages
    WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq AND NEW.deleted = 0 AND NEW.text <> '';
  INSERT INTO message_fts (rowid, text) SELECT docid, NEW.text FROM search_docs WHERE room = NEW.room AND ms = NEW.ms AND seq = NEW.seq;
END;
