--[[
read.lua — a user saw a room up to a top-level message: move their read position forward, in
one round trip (services/chat/read-script.ts; DESIGN.md "Per-user channel and attention").

KEYS[1]  room log        keys.roomLog(room)     STREAM: the message's `sq` (its seq)
KEYS[2]  read positions  keys.roomReads(room)   HASH uid -> "<seq> <id>", only ever moves forward
KEYS[3]  ingest stream   keys.ingestStreamOfRoom(room)
KEYS[4]  room counter    keys.roomSeq(room)     STRING (send.lua): used when the log is gone
KEYS[5]  room ACL        keys.roomAcl(room)     HASH: `n`, the member count (receipts on or off)

ARGV[1]  user id         ARGV[2] user name      ARGV[3] message id     ARGV[4] room
ARGV[5]  user channel    the user's other devices hear the new position (clear their badge)
ARGV[6]  room channel    a shard channel (SPUBLISH), same {p} hash tag
ARGV[7]  receipts        '1' always (DMs, groups), 'n' when the member count decides
ARGV[8]  RECEIPTS_MAX_MEMBERS
ARGV[9]  `read` frame head (frames.ts readFrameHead)      the script appends "seq":N}
ARGV[10] `receipt` frame head (frames.ts receiptFrameHead)
ARGV[11] ROOM_LOG_IDLE_TTL_SEC (the positions live as long as the log would)
ARGV[12] INGEST_MAX_BACKLOG

The seq comes from the log, never from the client. An id not in the log: when there is no log
(expired: nobody wrote for ROOM_LOG_IDLE_TTL_SEC) the user has seen the room's newest message,
so the position becomes the counter's value; when it is older than the log's first entry it is
older than any position worth having (ignored); otherwise it names no message (not_found).

Returns {'ok', seq} | {'unchanged'} (at or behind the stored position) | {'not_found'} |
        {'not_top_level'} (a reply or an event: threads are not counted) | {'overloaded', backlog}
]]

local id = ARGV[3]
local seq
local e = redis.call('XRANGE', KEYS[1], id, id)[1]
if e then
  for i = 1, #e[2], 2 do
    if e[2][i] == 'sq' then seq = tonumber(e[2][i + 1]) end
  end
  if not seq then return {'not_top_level'} end
else
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  if first then
    local fm, fs = string.match(first[1], '^(%d+)-(%d+)$')
    local im, is = string.match(id, '^(%d+)-(%d+)$')
    if tonumber(im) < tonumber(fm) or (im == fm and tonumber(is) < tonumber(fs)) then return {'unchanged'} end
    return {'not_found'}
  end
  seq = tonumber(redis.call('GET', KEYS[4]))
  if not seq then return {'not_found'} end
end

local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur and tonumber(string.match(cur, '^(%d+)')) >= seq then return {'unchanged'} end

local backlog = redis.call('XLEN', KEYS[3])
if backlog > tonumber(ARGV[12]) then return {'overloaded', backlog} end

redis.call('HSET', KEYS[2], ARGV[1], seq .. ' ' .. id)
redis.call('EXPIRE', KEYS[2], ARGV[11])
-- Field order is message.ts readMarkFields.
redis.call('XADD', KEYS[3], '*', 'rd', '1', 'room', ARGV[4], 'uid', ARGV[1], 'name', ARGV[2], 'id', id, 'sq', seq)
redis.call('PUBLISH', ARGV[5], ARGV[9] .. '"seq":' .. seq .. '}')
-- A public room without an ACL (wave 1, or not rebuilt yet) has no known size: no receipts.
local members = tonumber(redis.call('HGET', KEYS[5], 'n'))
if ARGV[7] == '1' or (members and members <= tonumber(ARGV[8])) then
  redis.call('SPUBLISH', ARGV[6], ARGV[10] .. '"seq":' .. seq .. '}')
end
return {'ok', seq}
