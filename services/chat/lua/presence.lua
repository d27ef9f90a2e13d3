--[[
presence.lua — one room's presence across replicas, changed and announced atomically
(services/chat/presence.ts).

KEYS[1]  presence set      keys.presence(room)   ZSET member = <userId>|<name>|<replicaId>,
                                                   score = expiry time (ms)

ARGV[1]  op                'join' | 'leave' | 'refresh'
ARGV[2]  room channel      keys.roomChannel(room) (a channel, not a key; same {p} hash tag)
ARGV[3]  room
ARGV[4]  now (ms, the replica's clock — the same one that computes every expiry)
ARGV[5]  expiry (ms) written for join/refresh entries
ARGV[6]  PEXPIRE of the whole set (ms), so a room nobody refreshes disappears
ARGV[7..] join/leave: the one entry; refresh: every entry this replica keeps in the room

A user is present while at least one unexpired entry with its id exists — one entry per replica
it is connected through. Events are per user and decided here, under the script's atomicity:
`join` when a user's first live entry appears, `leave` when its last one goes. So a user on two
replicas is one member until its last socket anywhere leaves, and a still-connected member whose
entry was swept (a Redis outage longer than the TTL) is announced again by its replica's next
refresh instead of silently reappearing.

Cost: each call reads the room's live entries once or twice (O(members)), like the member list a
join returns anyway.

Returns: join → the live entries (the member list, one per replica a user is on);
         leave, refresh → the number of presence events published.
]]

local key, channel, room = KEYS[1], ARGV[2], ARGV[3]
local op = ARGV[1]
local now = tonumber(ARGV[4])
local expiry = tonumber(ARGV[5])
local keyTtl = tonumber(ARGV[6])

-- <userId>|<name>|<replicaId> (ids and usernames never contain '|'); <userId>|<name> from
-- older replicas is read too.
local function split(m)
  local uid, rest = string.match(m, '^([^|]*)|(.*)$')
  if not uid then return m, m end
  local name = string.match(rest, '^([^|]*)|') or rest
  return uid, name
end

local function liveUsers()
  local users = {}
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, now, '+inf')) do users[(split(m))] = true end
  return users
end

local function announce(event, uid, name)
  redis.call('PUBLISH', channel, cjson.encode({ type = 'presence', room = room, event = event, user = { id = uid, name = name } }))
end

if op == 'join' then
  local before = liveUsers()
  redis.call('ZADD', key, expiry, ARGV[7])
  redis.call('PEXPIRE', key, keyTtl)
  local uid, name = split(ARGV[7])
  if not before[uid] then announce('join', uid, name) end
  return redis.call('ZRANGEBYSCORE', key, now, '+inf')
end

if op == 'leave' then
  if redis.call('ZREM', key, ARGV[7]) == 0 then return 0 end
  local uid, name = split(ARGV[7])
  if liveUsers()[uid] then return 0 end
  announce('leave', uid, name)
  return 1
end

if op == 'refresh' then
  local before = liveUsers()
  local added = {}
  for i = 7, #ARGV do
    if redis.call('ZADD', key, expiry, ARGV[i]) == 1 then added[#added + 1] = ARGV[i] end
  end
  redis.call('PEXPIRE', key, keyTtl)
  local expired = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. now)
  for _, m in ipairs(expired) do redis.call('ZREM', key, m) end
  local after = liveUsers()
  local events, seen = 0, {}
  for _, m in ipairs(added) do
    local uid, name = split(m)
    if not before[uid] and not seen[uid] then
      seen[uid] = true
      announce('join', uid, name)
      events = events + 1
    end
  end
  for _, m in ipairs(expired) do
    local uid, name = split(m)
    if not after[uid] and not seen[uid] then
      seen[uid] = true
      announce('leave', uid, name)
      events = events + 1
    end
  end
  return events
end

return redis.error_reply('presence.lua: unknown op ' .. tostring(op))
