--[[
presence.lua — one room's presence across replicas, changed and announced atomically
(services/chat/presence.ts).

KEYS[1]  presence set      keys.presence(room)       ZSET member = <userId>|<name>|<replicaId>,
                                                       score = expiry time (ms)
KEYS[2]  presence index    keys.presenceIndex(room)  ZSET, the same members with score 0, so one
                                                       user's entries are ZRANGEBYLEX [uid| (uid|\xff
                                                       (same {p} hash tag: the script is single-slot)

ARGV[1]  op                'join' | 'leave' | 'refresh'
ARGV[2]  room channel      keys.roomChannel(room) (a channel, not a key; same {p} hash tag)
ARGV[3]  room
ARGV[4]  now (ms, the replica's clock — the same one that computes every expiry)
ARGV[5]  expiry (ms) written for join/refresh entries
ARGV[6]  PEXPIRE of both keys (ms), so a room nobody refreshes disappears
ARGV[7]  limit             join: at most this many entries in the returned member list;
                           refresh: at most this many expired entries swept per call (the
                           caller calls again, entries empty, while `more`); leave: unused
ARGV[8]  events max        no join/leave is published while the set holds more entries than
                           this (PRESENCE_EVENTS_MAX_MEMBERS: in a big room every event would
                           go to every member, O(members²) frames for a reconnect wave)
ARGV[9..] join/leave: the one entry; refresh: every entry this replica keeps in the room

A user is present while at least one unexpired entry with its id exists — one entry per replica
it is connected through. Events are per user and decided here, under the script's atomicity:
`join` when a user's first live entry appears, `leave` when its last one goes. So a user on two
replicas is one member until its last socket anywhere leaves, and a still-connected member whose
entry was swept (a Redis outage longer than the TTL) is announced again by its replica's next
refresh instead of silently reappearing.

Cost: only the users being changed are examined, through the index: O(log n) per entry touched
(plus that user's few entries, one per replica), O(log n + k) for a sweep of k expired entries
(k <= limit) — never a read of the whole room. The member list returned by join is bounded by
ARGV[7]. Entries written without the index (by hand, or by an older script during a rolling
upgrade) still expire and are announced by the sweep; they are just not seen as "another live
entry" of their user.

Returns: join → live entries (the member list, one per replica a user is on, at most ARGV[7]);
         leave → the number of presence events published;
         refresh → { events published, more } (more = 1: the sweep hit the limit, call again).
]]

local key, index = KEYS[1], KEYS[2]
local op, channel, room = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(ARGV[4])
local expiry = tonumber(ARGV[5])
local keyTtl = tonumber(ARGV[6])
local limit = tonumber(ARGV[7])
local eventsMax = tonumber(ARGV[8])

-- <userId>|<name>|<replicaId> (ids and usernames never contain '|'); <userId>|<name> from
-- older replicas is read too.
local function split(m)
  local uid, rest = string.match(m, '^([^|]*)|(.*)$')
  if not uid then return m, m end
  local name = string.match(rest, '^([^|]*)|') or rest
  return uid, name
end

-- The user's indexed entries other than `except`: 'live' if one is unexpired, else 'expired'
-- if some remain, else 'none'. Index members whose entry is gone from the set (removed behind
-- the index's back) are dropped on the way.
local function state(uid, except)
  local result = 'none'
  for _, m in ipairs(redis.call('ZRANGEBYLEX', index, '[' .. uid .. '|', '(' .. uid .. '|\255')) do
    if m ~= except then
      local s = redis.call('ZSCORE', key, m)
      if not s then
        redis.call('ZREM', index, m)
      elseif tonumber(s) >= now then
        return 'live'
      else
        result = 'expired'
      end
    end
  end
  return result
end

-- Publishes the event unless the room is too big for per-member events; 1 if published.
-- `size` counts the user's own entry (before a leave removed it), so a user's join and leave
-- are announced alike. The frame is frames.ts presenceFrame's, key for key in its order
-- (cjson.encode of a table would order keys at random); strings are escaped by cjson.
local function announce(event, uid, name, size)
  if size > eventsMax then return 0 end
  redis.call('SPUBLISH', channel, '{"type":"presence","room":' .. cjson.encode(room) .. ',"event":"' .. event
    .. '","user":{"id":' .. cjson.encode(uid) .. ',"name":' .. cjson.encode(name) .. '}}')
  return 1
end

local function touch()
  redis.call('PEXPIRE', key, keyTtl)
  redis.call('PEXPIRE', index, keyTtl)
end

if op == 'join' then
  local m = ARGV[9]
  local uid, name = split(m)
  local own = redis.call('ZSCORE', key, m)
  local wasLive = (own and tonumber(own) >= now) or state(uid, m) == 'live'
  redis.call('ZADD', key, expiry, m)
  redis.call('ZADD', index, 0, m)
  touch()
  if not wasLive then announce('join', uid, name, redis.call('ZCARD', key)) end
  return redis.call('ZRANGEBYSCORE', key, now, '+inf', 'LIMIT', 0, limit)
end

if op == 'leave' then
  local m = ARGV[9]
  local size = redis.call('ZCARD', key)
  redis.call('ZREM', index, m)
  -- already swept: its leave was announced then
  if redis.call('ZREM', key, m) == 0 then return 0 end
  local uid, name = split(m)
  if state(uid, m) == 'live' then return 0 end
  -- the user's last live entry: drop its expired leftovers too, so that sweeping them later
  -- does not announce a second leave
  for _, e in ipairs(redis.call('ZRANGEBYLEX', index, '[' .. uid .. '|', '(' .. uid .. '|\255')) do
    redis.call('ZREM', key, e)
    redis.call('ZREM', index, e)
  end
  return announce('leave', uid, name, size)
end

if op == 'refresh' then
  local events, seen = 0, {}
  for i = 9, #ARGV do
    local m = ARGV[i]
    -- a new entry (first time, or re-added after a sweep): announced unless the user is live
    -- elsewhere. An existing one was indexed when it was added.
    if redis.call('ZADD', key, expiry, m) == 1 then
      redis.call('ZADD', index, 0, m)
      local uid, name = split(m)
      if not seen[uid] and state(uid, m) ~= 'live' then
        seen[uid] = true
        events = events + announce('join', uid, name, redis.call('ZCARD', key))
      end
    end
  end
  touch()
  local size = redis.call('ZCARD', key)
  local expired = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. now, 'LIMIT', 0, limit)
  for _, m in ipairs(expired) do
    redis.call('ZREM', key, m)
    redis.call('ZREM', index, m)
  end
  for _, m in ipairs(expired) do
    local uid, name = split(m)
    -- 'expired': another entry of the user is still waiting beyond this batch; its sweep announces
    if not seen[uid] then
      seen[uid] = true
      if state(uid, nil) == 'none' then
        events = events + announce('leave', uid, name, size)
      end
    end
  end
  return { events, #expired == limit and 1 or 0 }
end

return redis.error_reply('presence.lua: unknown op ' .. tostring(op))
