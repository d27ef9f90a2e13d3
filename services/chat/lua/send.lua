--[[
send.lua — accept one chat message atomically, in one round trip (DESIGN.md "Message path").

KEYS[1]  idempotency key   keys.sendIdempotency(room, userId, cid)  STRING -> message id
KEYS[2]  room rate key     keys.sendRate(room, userId)              STRING: GCRA theoretical arrival time (ms), PX
KEYS[3]  room log          keys.roomLog(room)                       STREAM, capped; its ids ARE the message ids
KEYS[4]  ingest stream     keys.ingestStreamOfRoom(room)            STREAM read by the ingestion group
KEYS[5]  user send budget  keys.userSendBudget(room, userId)        STRING integer messages*2^32 + text bytes, fixed window (PEXPIRE)
KEYS[6]  user room creates keys.userRoomCreates(room, userId)       STRING counter, fixed window (EXPIRE)
         KEYS[5] and KEYS[6] are per (user, partition) — the room's {p} tag keeps the script single-slot.
KEYS[7]  message index     keys.messageIndex(room)                  STREAM id = message id, u = author, p = parent (lib/limits.lua)
KEYS[8]  thread counters   keys.thread(room, replyTo)               HASH c = replies not deleted (a placeholder key of the
                                                                    same slot when the message is not a reply: never touched)
KEYS[9]  room ACL          keys.roomAcl(room)                       HASH (keys.ts): who may write (lib/limits.lua access_check)
KEYS[10] room counter      keys.roomSeq(room)                       STRING: INCR per top-level message = its `seq`
KEYS[11] room uploads      keys.roomUploads(room)                   HASH upload id -> "<owner uid> <Attachment JSON>"

ARGV[1]  room channel      keys.roomChannel(room): a shard channel (SPUBLISH) of the same {p} hash tag;
                           '' = do not publish, return the frame (see Returns)
ARGV[2]  room
ARGV[3]  user id
ARGV[4]  user name
ARGV[5]  text
ARGV[6]  cid
ARGV[7]  the limits: one argument, built once per replica by send-script.ts sendLimitsArg — 13
         config values, space-separated, in this order (the send path's command then carries one
         bulk string for them instead of thirteen; unpacked by one string.match below):
           RATE_LIMIT_MESSAGES RATE_LIMIT_WINDOW_MS IDEMPOTENCY_TTL_SEC
           INGEST_MAX_BACKLOG  ROOM_LOG_MAXLEN (approximate trim, MAXLEN ~)
           ROOM_LOG_IDLE_TTL_SEC: the room log's EXPIRE, renewed by every accepted message, so the
             logs of abandoned rooms leave Redis (history then comes from the store; a join/resume
             of an expired log answers recovered:false as for a trimmed one)
           USER_SEND_MAX_MESSAGES USER_SEND_MAX_BYTES (UTF-8 bytes of text) USER_SEND_WINDOW_MS
             (the account budget: per window, all rooms of the partition)
           ROOM_CREATE_MAX (sends into a room without a log, per window) ROOM_CREATE_WINDOW_SEC
           MESSAGE_CHANGE_WINDOW_SEC: the index keeps this much; its entries are what edit,
             delete, react and replyTo can target (event.lua)
           ROOM_MENTION_MAX_MEMBERS: @room only in rooms up to this many members
ARGV[8]  frame head: the `message` frame JSON pre-serialized by the replica up to and including
         the comma before "id", e.g. {"type":"message","room":..,"user":{..},"text":..,"cid":..,
         The script appends "id":"<id>","ts":<ms>} (both are digits and '-': no escaping needed),
         so it needs no cjson and the replica forwards the published string verbatim.
ARGV[9]  replyTo: the parent message id, '' for a top-level message. The parent must be in the
         index (not deleted, inside the change window) and top-level (threads are one level).
ARGV[10] '1' when the room is private or a group (by its name): the sender must have a role
ARGV[11] a DM's other user's channel (keys.userChannel), '' otherwise: the first message of a
         DM (no log yet) is published there too, so the recipient's sidebar shows it live
ARGV[12] @room asked for: '' no, 'admin' (owners and admins may), 'any' (a group: every member may)
ARGV[13] @names in the text, lowercased, ','-joined ('' for none): resolved through the ACL's
         u:<name> to members (r: set, not banned), never the sender
ARGV[14] attachment ids, ','-joined ('' for none; protocol.ts checked shape, count, uniqueness):
         each must be in KEYS[11] uploaded by this sender, else {'bad_attachment', id}; their
         JSONs go verbatim into the frame ("attachments", first in the tail), the log and the
         ingest entry (`at`), and the send marks them "~<message id>" (one message per upload;
         files-routes.ts lets members read a sent upload before ingestion stores its message)

Mentions and seq (DESIGN.md "Per-user channel and attention"): the resolved ids (and '@room')
go into the frame as "mentions", the log and ingest entry as `mn`; a top-level message takes the
next value of the room counter as "seq" / `sq`, so unread counts are differences of seqs. A
reply carries its parent's author in the ingest entry (`pu`) for the reply notification.

Returns one of:
  {'ok', id, ts}            accepted: logged, queued for ingestion, published
  {'ok', id, ts, frame, peer channel}   the same when ARGV[1] is '' (REDIS_ACK_REPLICAS): NOT
                            published; the caller publishes `frame` to the room channel (and to
                            the peer's user channel when not '') once replicas confirmed it
  {'dup', id, ts}           this (user, room, cid) was accepted before: its original id; nothing written
  {'rate', retryAfterMs}    over the per-user-per-room limit; nothing written
  {'user_rate', retryAfterMs} over the account-wide message/byte budget; nothing written
  {'room_rate', retryAfterMs} this send would create a room and the user created ROOM_CREATE_MAX
                            rooms in the window; nothing written
  {'overloaded', backlog}   the ingest stream holds more than INGEST_MAX_BACKLOG entries; nothing written
  {'not_found'}             replyTo is not a message of the index (unknown, deleted, too old); nothing written
  {'not_top_level'}         replyTo is itself a reply; nothing written
  {'bad_attachment', id}    an attachment id this sender did not upload to this room (or sent already); nothing written
  {'no_access'} {'banned'} {'archived'} {'muted', retryAfterMs}   the room's ACL refuses (lib/limits.lua)

Order: idempotency first (a retry of an accepted message gets its ack even when the user is now
rate limited), then the reply's parent, the room rate limit, the account budget, the ingest backlog, the
room-creation cap, then the writes — a refused send leaves no record and charges no budget. The budgets
are fixed windows costing the accepted path two commands (an INCRBY that checks and charges,
an EXPIRE of the room log moved before the XADD that also tells a new room) because the send
path's speed must not drop; a burst at a window boundary can reach 2x the budget, never more.
A reply bumps its thread's counter and carries the new count in its frame ("replyCount", before
"id") and in the log (`rc`), so every client shows an absolute count, not a sum of deltas.
The rate limit and budget functions are in lib/limits.lua (shared with event.lua).
]]
local rateMax, rateWindowMs, idemTtl, maxBacklog, logMaxLen, logIdleTtl, budgetMsgs, budgetBytes,
  budgetWindowMs, createMax, createWindowSec, changeWindowSec, roomMentionMax = string.match(ARGV[7],
  '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+)$')
if not roomMentionMax then return redis.error_reply('send.lua: malformed limits argument') end


local existing = redis.call('GET', KEYS[1])
if existing then
  return {'dup', existing, tonumber(string.match(existing, '^(%d+)-'))}
end

local now = now_ms()
local role, refused = access_check(KEYS[9], ARGV[3], ARGV[10], now)
if refused then return refused end
local windowMs = tonumber(changeWindowSec) * 1000
local replyTo = ARGV[9]
local parentAuthor
if replyTo ~= '' then
  -- MINID trimming is approximate (whole nodes): the age is checked exactly here.
  if tonumber(string.match(replyTo, '^(%d+)-')) + windowMs <= now then return {'not_found'} end
  local parent = index_get(KEYS[7], replyTo)
  if not parent then return {'not_found'} end
  if parent.p then return {'not_top_level'} end
  parentAuthor = parent.u
end

-- Attachments: each an upload of this sender into this room, not yet sent.
local attachmentIds, attachments
if ARGV[14] ~= '' then
  attachmentIds = {}
  for aid in string.gmatch(ARGV[14], '[^,]+') do attachmentIds[#attachmentIds + 1] = aid end
  local uploads = redis.call('HMGET', KEYS[11], unpack(attachmentIds))
  local metas = {}
  for i, v in ipairs(uploads) do
    local sp = v and string.find(v, ' ', 1, true)
    if not sp or string.sub(v, 1, sp - 1) ~= ARGV[3] then return {'bad_attachment', attachmentIds[i]} end
    metas[i] = string.sub(v, sp + 1)
  end
  attachments = '[' .. table.concat(metas, ',') .. ']'
end

local nextTat, rateRetry = rate_check(KEYS[2], now, tonumber(rateMax), tonumber(rateWindowMs))
if not nextTat then return {'rate', rateRetry} end

local budget, budgetRetry = budget_charge(KEYS[5], string.len(ARGV[5]), budgetMsgs, budgetBytes, budgetWindowMs)
if not budget then return {'user_rate', budgetRetry} end

local backlog = redis.call('XLEN', KEYS[4])
if backlog > tonumber(maxBacklog) then
  budget_refund(budget)
  return {'overloaded', backlog}
end

-- Renews the room log's idle expiry and, answering 0, says there is no log: this send creates
-- the room (a new log of up to ROOM_LOG_MAXLEN entries), which counts against ROOM_CREATE_MAX.
-- (An existing room is never refused after this point, so the renewal never outlives a refusal.)
local creating = redis.call('EXPIRE', KEYS[3], logIdleTtl) == 0
if creating and (tonumber(redis.call('GET', KEYS[6])) or 0) >= tonumber(createMax) then
  budget_refund(budget)
  local retry = redis.call('PTTL', KEYS[6])
  if retry == -1 then
    redis.call('EXPIRE', KEYS[6], createWindowSec)
    retry = tonumber(createWindowSec) * 1000
  end
  if retry < 1 then retry = 1 end
  return {'room_rate', retry}
end

-- Mentions: members only (r: set, not banned), never the sender, each once.
local mentions = {}
if ARGV[13] ~= '' then
  local names = {}
  for name in string.gmatch(ARGV[13], '[^,]+') do names[#names + 1] = 'u:' .. name end
  local ids = redis.call('HMGET', KEYS[9], unpack(names))
  local found, fields, seen = {}, {}, {}
  for _, uid in ipairs(ids) do
    if uid and uid ~= ARGV[3] and not seen[uid] then
      seen[uid] = true
      found[#found + 1] = uid
      fields[#fields + 1] = 'r:' .. uid
      fields[#fields + 1] = 'b:' .. uid
    end
  end
  if #found > 0 then
    local st = redis.call('HMGET', KEYS[9], unpack(fields)) -- role, ban of each, in one call
    for i, uid in ipairs(found) do
      if st[2 * i - 1] and not st[2 * i] then mentions[#mentions + 1] = uid end
    end
  end
end
if ARGV[12] == 'any' or (ARGV[12] == 'admin' and (role == 'owner' or role == 'admin')) then
  if (tonumber(redis.call('HGET', KEYS[9], 'n')) or 0) <= tonumber(roomMentionMax) then mentions[#mentions + 1] = '@room' end
end

-- Log and ingest fields (message.ts): uid name text cid [sq] [mn] [at] then the reply's own.
local fields = {'uid', ARGV[3], 'name', ARGV[4], 'text', ARGV[5], 'cid', ARGV[6]}
local seq, replyCount
if replyTo == '' then
  seq = redis.call('INCR', KEYS[10])
  fields[#fields + 1] = 'sq'; fields[#fields + 1] = seq
end
if #mentions > 0 then
  fields[#fields + 1] = 'mn'; fields[#fields + 1] = table.concat(mentions, ',')
end
if attachments then
  fields[#fields + 1] = 'at'; fields[#fields + 1] = attachments
end
local n = #fields
local id
if replyTo == '' then
  id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', logMaxLen, '*', unpack(fields))
else
  -- Lives as long as its newest reply can still be deleted (a reply's own change window), so a
  -- delete of any reply finds the counter it lowers.
  replyCount = redis.call('HINCRBY', KEYS[8], 'c', 1)
  redis.call('PEXPIRE', KEYS[8], windowMs)
  fields[n + 1] = 're'; fields[n + 2] = replyTo; fields[n + 3] = 'rc'; fields[n + 4] = replyCount
  id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', logMaxLen, '*', unpack(fields))
end
local ts = tonumber(string.match(id, '^(%d+)-'))

-- The index entry that lets this message be edited, deleted, reacted to (and, top-level, replied
-- to) for the change window; MINID ~ drops whole nodes older than it. pcall: an explicit id must
-- be above the index's last one, which only a Redis clock that went back can break — then this
-- message is not changeable, and the send (already logged) still succeeds.
local minId = string.format('%.0f', now - windowMs) .. '-0'
if replyTo == '' then
  redis.pcall('XADD', KEYS[7], 'MINID', '~', minId, id, 'u', ARGV[3])
else
  redis.pcall('XADD', KEYS[7], 'MINID', '~', minId, id, 'u', ARGV[3], 'p', replyTo)
end
redis.call('EXPIRE', KEYS[7], changeWindowSec)

-- Field order is message.ts ingestEntryFields: room id uid name text cid [sq] [mn] [at] [re pu].
if replyTo == '' then
  redis.call('XADD', KEYS[4], '*', 'room', ARGV[2], 'id', id, unpack(fields))
else
  fields[n + 3] = 'pu'; fields[n + 4] = parentAuthor or ''
  redis.call('XADD', KEYS[4], '*', 'room', ARGV[2], 'id', id, unpack(fields))
end

redis.call('SET', KEYS[1], id, 'EX', idemTtl)
if attachmentIds then
  local sent = {}
  for _, aid in ipairs(attachmentIds) do sent[#sent + 1] = aid; sent[#sent + 1] = '~' .. id end
  redis.call('HSET', KEYS[11], unpack(sent))
end
rate_commit(KEYS[2], now, nextTat)
budget_commit(budget, budgetWindowMs)
if creating then
  redis.call('EXPIRE', KEYS[3], logIdleTtl)
  if redis.call('INCR', KEYS[6]) == 1 then redis.call('EXPIRE', KEYS[6], createWindowSec) end
end

-- The tail's order is frames.ts frameTail: attachments, mentions, seq, replyCount, id, ts.
local tail = '"id":"' .. id .. '","ts":' .. ts .. '}'
if replyCount then tail = '"replyCount":' .. replyCount .. ',' .. tail end
if seq then tail = '"seq":' .. seq .. ',' .. tail end
if #mentions > 0 then tail = '"mentions":["' .. table.concat(mentions, '","') .. '"],' .. tail end
if attachments then tail = '"attachments":' .. attachments .. ',' .. tail end
local frame = ARGV[8] .. tail
local peerChannel = (creating and ARGV[11]) or ''
-- No room channel: REDIS_ACK_REPLICAS is on and the replica publishes the frame itself once the
-- replicas hold the message (shared/replica-ack.ts) — never live before it is durable.
if ARGV[1] == '' then return {'ok', id, ts, frame, peerChannel} end
redis.call('SPUBLISH', ARGV[1], frame)
if peerChannel ~= '' then redis.call('PUBLISH', peerChannel, frame) end
return {'ok', id, ts}
