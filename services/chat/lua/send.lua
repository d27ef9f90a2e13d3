--[[
send.lua — accept one chat message atomically, in one round trip (DESIGN.md "Message path").

KEYS[1]  idempotency key   keys.sendIdempotency(room, userId, cid)  STRING -> message id
KEYS[2]  rate window key   keys.sendRate(room, userId)              ZSET member=message id, score=ms
KEYS[3]  room log          keys.roomLog(room)                       STREAM, capped; its ids ARE the message ids
KEYS[4]  ingest stream     keys.ingestStreamOfRoom(room)            STREAM read by the ingestion group

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

Returns one of:
  {'ok', id, ts}            accepted: logged, queued for ingestion, published
  {'dup', id, ts}           this (user, room, cid) was accepted before: its original id; nothing written
  {'rate', retryAfterMs}    over the per-user-per-room limit; nothing written
  {'overloaded', backlog}   the ingest stream holds more than INGEST_MAX_BACKLOG entries; nothing written

Order: idempotency first (a retry of an accepted message gets its ack even when the user is now
rate limited), then rate limit, then backlog, then the writes — a refused send leaves no record.
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

-- Sliding-window log: entries older than the window fall out.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZCARD', KEYS[2]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  local retry = window
  if oldest[2] then retry = tonumber(oldest[2]) + window - now end
  if retry < 1 then retry = 1 end
  return {'rate', retry}
end

local backlog = redis.call('XLEN', KEYS[4])
if backlog > tonumber(ARGV[10]) then
  return {'overloaded', backlog}
end

local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[11], '*',
  'uid', ARGV[3], 'name', ARGV[4], 'text', ARGV[5], 'cid', ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[13])
local ts = tonumber(string.match(id, '^(%d+)-'))

-- Field order is message.ts ingestEntryFields: room id uid name text cid.
redis.call('XADD', KEYS[4], '*',
  'room', ARGV[2], 'id', id, 'uid', ARGV[3], 'name', ARGV[4], 'text', ARGV[5], 'cid', ARGV[6])

redis.call('SET', KEYS[1], id, 'EX', ARGV[9])
redis.call('ZADD', KEYS[2], now, id)
redis.call('PEXPIRE', KEYS[2], window)

redis.call('PUBLISH', ARGV[1], ARGV[12] .. '"id":"' .. id .. '","ts":' .. ts .. '}')
return {'ok', id, ts}
