-- ANCHOR for `npm run bench -- chat` (issue 13): services/chat/lua/send.lua as it was before
-- issue 13, byte for byte below this comment (`git show a631ef1:services/chat/lua/send.lua`).
-- The chat benchmark runs it and today's script against the same redis-server, alternately, to
-- show what the message index and thread counters cost the send path. Never used by a service.
--[[
send.lua — accept one chat message atomically, in one round trip (DESIGN.md "Message path").

KEYS[1]  idempotency key   keys.sendIdempotency(room, userId, cid)  STRING -> message id
KEYS[2]  room rate key     keys.sendRate(room, userId)              STRING: GCRA theoretical arrival time (ms), PX
KEYS[3]  room log          keys.roomLog(room)                       STREAM, capped; its ids ARE the message ids
KEYS[4]  ingest stream     keys.ingestStreamOfRoom(room)            STREAM read by the ingestion group
KEYS[5]  user send budget  keys.userSendBudget(room, userId)        STRING integer messages*2^32 + text bytes, fixed window (PEXPIRE)
KEYS[6]  user room creates keys.userRoomCreates(room, userId)       STRING counter, fixed window (EXPIRE)
         KEYS[5] and KEYS[6] are per (user, partition) — the room's {p} tag keeps the script single-slot.

ARGV[1]  room channel      keys.roomChannel(room) (a channel, not a key; same {p} hash tag)
ARGV[2]  room
ARGV[3]  user id
ARGV[4]  user name
ARGV[5]  text
ARGV[6]  cid
ARGV[7]  RATE_LIMIT_MESSAGES
ARGV[8]  RATE_LIMIT_WINDOW_MS
ARGV[9]  IDEMPOTENCY_TTL_SEC
ARGV[10] INGEST_MAX_BACKLOG
ARGV[11] ROOM_LOG_MAXLEN (approximate trim, MAXLEN ~)
ARGV[12] frame head: the `message` frame JSON pre-serialized by the replica up to and including
         the comma before "id", e.g. {"type":"message","room":..,"user":{..},"text":..,"cid":..,
         The script appends "id":"<id>","ts":<ms>} (both are digits and '-': no escaping needed),
         so it needs no cjson and the replica forwards the published string verbatim.
ARGV[13] ROOM_LOG_IDLE_TTL_SEC: the room log's EXPIRE, renewed by every accepted message, so the
         logs of abandoned rooms leave Redis (history then comes from the store; a join/resume
         of an expired log answers recovered:false as for a trimmed one)
ARGV[14] USER_SEND_MAX_MESSAGES (per USER_SEND_WINDOW_MS, all rooms of the partition)
ARGV[15] USER_SEND_MAX_BYTES    (UTF-8 bytes of text, same window)
ARGV[16] USER_SEND_WINDOW_MS
ARGV[17] ROOM_CREATE_MAX        (sends into a room without a log, per ROOM_CREATE_WINDOW_SEC)
ARGV[18] ROOM_CREATE_WINDOW_SEC

Returns one of:
  {'ok', id, ts}            accepted: logged, queued for ingestion, published
  {'dup', id, ts}           this (user, room, cid) was accepted before: its original id; nothing written
  {'rate', retryAfterMs}    over the per-user-per-room limit; nothing written
  {'user_rate', retryAfterMs} over the account-wide message/byte budget; nothing written
  {'room_rate', retryAfterMs} this send would create a room and the user created ROOM_CREATE_MAX
                            rooms in the window; nothing written
  {'overloaded', backlog}   the ingest stream holds more than INGEST_MAX_BACKLOG entries; nothing written

Order: idempotency first (a retry of an accepted message gets its ack even when the user is now
rate limited), then the room rate limit, the account budget, the ingest backlog, the
room-creation cap, then the writes — a refused send leaves no record and charges no budget. The budgets
are fixed windows costing the accepted path two commands (an INCRBY that checks and charges,
an EXPIRE of the room log moved before the XADD that also tells a new room) because the send
path's speed must not drop; a burst at a window boundary can reach 2x the budget, never more.
Time comes from Redis TIME so every replica shares one clock.
]]

local existing = redis.call('GET', KEYS[1])
if existing then
  return {'dup', existing, tonumber(string.match(existing, '^(%d+)-'))}
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[7])
local window = tonumber(ARGV[8])

-- Per-user-per-room rate, GCRA (generic cell rate algorithm): one number, the theoretical
-- arrival time `tat` of the next send. Up to RATE_LIMIT_MESSAGES at once, then one per
-- window/limit; a send is refused while it would push `tat` more than a window ahead. Two
-- commands (GET now, SET on acceptance) where a sliding-window log took four and a ZSET.
local interval = window / limit
local tat = tonumber(redis.call('GET', KEYS[2])) or now
if tat < now then tat = now end
local nextTat = tat + interval
if nextTat - now > window then
  return {'rate', math.max(1, math.ceil(nextTat - now - window))}
end

-- Account-wide budget: the per-room limit alone lets one user fill Redis through many rooms.
-- ONE integer holds both counters, messages * 2^32 + bytes (bytes per window < 2^32 by the
-- config bound, messages < 2^20: exact in Lua's doubles), so the accepted path pays one INCRBY.
-- It is charged first and refunded on any refusal below (invisible: the script is atomic).
local SHIFT = 4294967296
local charge = SHIFT + string.len(ARGV[5])
local chargeArg = string.format('%.0f', charge)
local total = redis.call('INCRBY', KEYS[5], chargeArg)
local fresh = total == charge -- the first send of a window: the key was just created
local function refund()
  if fresh then redis.call('DEL', KEYS[5]) else redis.call('DECRBY', KEYS[5], chargeArg) end
end
if math.floor(total / SHIFT) > tonumber(ARGV[14]) or total % SHIFT > tonumber(ARGV[15]) then
  refund()
  local retry = redis.call('PTTL', KEYS[5])
  if retry == -1 then
    -- never expected (the window is set with the key), but never lock a user out forever
    redis.call('PEXPIRE', KEYS[5], ARGV[16])
    retry = tonumber(ARGV[16])
  end
  if retry < 1 then retry = 1 end
  return {'user_rate', retry}
end

local backlog = redis.call('XLEN', KEYS[4])
if backlog > tonumber(ARGV[10]) then
  refund()
  return {'overloaded', backlog}
end

-- Renews the room log's idle expiry and, answering 0, says there is no log: this send creates
-- the room (a new log of up to ROOM_LOG_MAXLEN entries), which counts against ROOM_CREATE_MAX.
-- (An existing room is never refused after this point, so the renewal never outlives a refusal.)
local creating = redis.call('EXPIRE', KEYS[3], ARGV[13]) == 0
if creating and (tonumber(redis.call('GET', KEYS[6])) or 0) >= tonumber(ARGV[17]) then
  refund()
  local retry = redis.call('PTTL', KEYS[6])
  if retry == -1 then
    redis.call('EXPIRE', KEYS[6], ARGV[18])
    retry = tonumber(ARGV[18]) * 1000
  end
  if retry < 1 then retry = 1 end
  return {'room_rate', retry}
end

local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[11], '*',
  'uid', ARGV[3], 'name', ARGV[4], 'text', ARGV[5], 'cid', ARGV[6])
local ts = tonumber(string.match(id, '^(%d+)-'))

-- Field order is message.ts ingestEntryFields: room id uid name text cid.
redis.call('XADD', KEYS[4], '*',
  'room', ARGV[2], 'id', id, 'uid', ARGV[3], 'name', ARGV[4], 'text', ARGV[5], 'cid', ARGV[6])

redis.call('SET', KEYS[1], id, 'EX', ARGV[9])
redis.call('SET', KEYS[2], string.format('%.3f', nextTat), 'PX', math.max(1, math.ceil(nextTat - now)))
if fresh then redis.call('PEXPIRE', KEYS[5], ARGV[16]) end
if creating then
  redis.call('EXPIRE', KEYS[3], ARGV[13])
  if redis.call('INCR', KEYS[6]) == 1 then redis.call('EXPIRE', KEYS[6], ARGV[18]) end
end

redis.call('PUBLISH', ARGV[1], ARGV[12] .. '"id":"' .. id .. '","ts":' .. ts .. '}')
return {'ok', id, ts}
