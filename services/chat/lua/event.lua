--[[
event.lua — accept one change to a message (edit, delete, react) atomically, in one round trip:
authorise it against the room's message index, append it to the room log as an EVENT with its
own id, queue it for ingestion and publish it (DESIGN.md "Wave 2 — Room events"). The check and
the append are one script: never "check, then append".

KEYS[1]  idempotency key   keys.sendIdempotency(room, userId, cid)  shared with send.lua: a cid names one action
KEYS[2]  room rate key     keys.sendRate(room, userId)              the same budget as sends (lib/limits.lua)
KEYS[3]  room log          keys.roomLog(room)
KEYS[4]  ingest stream     keys.ingestStreamOfRoom(room)
KEYS[5]  user send budget  keys.userSendBudget(room, userId)
KEYS[6]  message index     keys.messageIndex(room)                  id = message id, u = author, p = parent
KEYS[7]  reactions         keys.reactions(room, target)             HASH <emoji> → count, <emoji>\n<uid> → 1, # → emoji in use
KEYS[8]  thread counters   keys.thread(room, parent)                the target's parent when the replica's
                                                                    pre-read found one (delete of a reply), else a placeholder
KEYS[9]  room ACL          keys.roomAcl(room)                       who may change what (lib/limits.lua access_check)

ARGV[1]  room channel      ARGV[2] room       ARGV[3] user id     ARGV[4] user name    ARGV[5] cid
ARGV[6]  kind: edit | delete | react
ARGV[7]  target message id
ARGV[8]  text (edit), ''   ARGV[9] emoji (react), ''               ARGV[10] '1' on / '0' off (react)
ARGV[11] RATE_LIMIT_MESSAGES   ARGV[12] RATE_LIMIT_WINDOW_MS        ARGV[13] IDEMPOTENCY_TTL_SEC
ARGV[14] INGEST_MAX_BACKLOG    ARGV[15] ROOM_LOG_MAXLEN             ARGV[16] frame head (frames.ts eventFrameHead)
ARGV[17] ROOM_LOG_IDLE_TTL_SEC ARGV[18] USER_SEND_MAX_MESSAGES      ARGV[19] USER_SEND_MAX_BYTES
ARGV[20] USER_SEND_WINDOW_MS   ARGV[21] MESSAGE_CHANGE_WINDOW_SEC   ARGV[22] MAX_REACTION_EMOJI
ARGV[23] the parent KEYS[8] names ('' when none): the index entry's `p` must say the same, which it
         always does (entries never change) — checked so a wrong key can never be written
ARGV[24] '1' when the room is private or a group (by its name): the user must have a role

Returns one of:
  {'ok', id, ts}        appended, queued, published
  {'ok', id, ts, frame} the same, NOT published, when ARGV[1] is '' (REDIS_ACK_REPLICAS: the
                        caller publishes `frame` once replicas confirmed it)
  {'dup', id, ts}       this cid was accepted before (its original id); nothing written
  {'not_found'}         the target is not in the index: unknown, deleted, or older than the window
  {'forbidden'}         an edit of another user's message, a delete of it by someone who is not the
                        room's owner or an admin
  {'no_access'} {'banned'} {'archived'} {'muted', retryAfterMs}   the room's ACL refuses (lib/limits.lua)
  {'unchanged'}         a reaction already as asked; nothing written, nothing charged
  {'limit'}             the target already has MAX_REACTION_EMOJI different emoji
  {'rate', ms} {'user_rate', ms} {'overloaded', backlog}   as send.lua; nothing written
  {'bad_parent'}        ARGV[23] disagrees with the index (a replica bug); nothing written

Authorship comes from the index, not from the room log: the log is capped by count and expires
when idle, so a busy room's log forgets a message within minutes, while users expect to fix a
typo or react hours later. The index holds only what authorisation needs (~25 bytes a message)
for MESSAGE_CHANGE_WINDOW_SEC; older messages are history that no longer changes. A delete
removes the entry: nothing can target a deleted message afterwards. The room's owner and admins
delete anyone's message (their role comes from the same ACL read as the access check).
]]

local existing = redis.call('GET', KEYS[1])
if existing then
  return {'dup', existing, tonumber(string.match(existing, '^(%d+)-'))}
end

local kind = ARGV[6]
local target = ARGV[7]
local uid = ARGV[3]
local now = now_ms()
local role, refused = access_check(KEYS[9], uid, ARGV[24], now)
if refused then return refused end
local windowEnd = tonumber(string.match(target, '^(%d+)-')) + tonumber(ARGV[21]) * 1000
-- MINID trimming is approximate (whole nodes): the age is checked exactly here.
if windowEnd <= now then return {'not_found'} end
local entry = index_get(KEYS[6], target)
if not entry then return {'not_found'} end
if kind == 'delete' and (entry.p or '') ~= ARGV[23] then return {'bad_parent'} end
if kind ~= 'react' and entry.u ~= uid and not (kind == 'delete' and (role == 'owner' or role == 'admin')) then
  return {'forbidden'}
end

local emoji = ARGV[9]
local on = ARGV[10] == '1'
local mine = emoji .. '\n' .. uid
if kind == 'react' then
  local has = redis.call('HEXISTS', KEYS[7], mine) == 1
  if has == on then return {'unchanged'} end
  if on and not redis.call('HGET', KEYS[7], emoji)
      and (tonumber(redis.call('HGET', KEYS[7], '#')) or 0) >= tonumber(ARGV[22]) then
    return {'limit'}
  end
end

local nextTat, rateRetry = rate_check(KEYS[2], now, tonumber(ARGV[11]), tonumber(ARGV[12]))
if not nextTat then return {'rate', rateRetry} end
local budget, budgetRetry = budget_charge(KEYS[5], string.len(ARGV[8]) + string.len(emoji), ARGV[18], ARGV[19], ARGV[20])
if not budget then return {'user_rate', budgetRetry} end
local backlog = redis.call('XLEN', KEYS[4])
if backlog > tonumber(ARGV[14]) then
  budget_refund(budget)
  return {'overloaded', backlog}
end

local log = { 'ev', kind, 'uid', uid, 'name', ARGV[4], 'cid', ARGV[5], 'tg', target }
local ingest = { 'room', ARGV[2], 'id', '', 'ev', kind, 'uid', uid, 'name', ARGV[4], 'cid', ARGV[5], 'tg', target }
local tail = ''
if kind == 'edit' then
  table.insert(log, 'text'); table.insert(log, ARGV[8])
  table.insert(ingest, 'text'); table.insert(ingest, ARGV[8])
elseif kind == 'delete' then
  redis.call('XDEL', KEYS[6], target)
  redis.call('DEL', KEYS[7])
  if entry.p then
    -- The thread's live counter outlives every reply that can still be deleted (send.lua); only
    -- a Redis that lost it (data loss) has none: then the frame names the parent without a
    -- count rather than a wrong one, and the store recounts.
    table.insert(log, 're'); table.insert(log, entry.p)
    table.insert(ingest, 're'); table.insert(ingest, entry.p)
    tail = '"replyTo":"' .. entry.p .. '",'
    if redis.call('EXISTS', KEYS[8]) == 1 then
      local c = redis.call('HINCRBY', KEYS[8], 'c', -1)
      if c < 0 then c = 0 end
      table.insert(log, 'rc'); table.insert(log, c)
      tail = tail .. '"replyCount":' .. c .. ','
    end
  end
else
  local n
  if on then
    redis.call('HSET', KEYS[7], mine, 1)
    n = redis.call('HINCRBY', KEYS[7], emoji, 1)
    if n == 1 then redis.call('HINCRBY', KEYS[7], '#', 1) end
  else
    redis.call('HDEL', KEYS[7], mine)
    n = redis.call('HINCRBY', KEYS[7], emoji, -1)
    if n <= 0 then
      n = 0
      redis.call('HDEL', KEYS[7], emoji)
      redis.call('HINCRBY', KEYS[7], '#', -1)
    end
  end
  redis.call('PEXPIREAT', KEYS[7], windowEnd)
  for _, v in ipairs({ 'emoji', emoji, 'on', ARGV[10], 'n', n }) do table.insert(log, v) end
  for _, v in ipairs({ 'emoji', emoji, 'on', ARGV[10] }) do table.insert(ingest, v) end
  tail = '"count":' .. n .. ','
end

local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[15], '*', unpack(log))
local ts = tonumber(string.match(id, '^(%d+)-'))
-- An event may be the first entry of an expired (idle) log: the log must expire again.
redis.call('EXPIRE', KEYS[3], ARGV[17])
ingest[4] = id
redis.call('XADD', KEYS[4], '*', unpack(ingest))

redis.call('SET', KEYS[1], id, 'EX', ARGV[13])
rate_commit(KEYS[2], now, nextTat)
budget_commit(budget, ARGV[20])

local frame = ARGV[16] .. tail .. '"id":"' .. id .. '","ts":' .. ts .. '}'
-- No room channel: REDIS_ACK_REPLICAS; the replica publishes once the replicas hold it (send.lua).
if ARGV[1] == '' then return {'ok', id, ts, frame} end
redis.call('SPUBLISH', ARGV[1], frame)
return {'ok', id, ts}
