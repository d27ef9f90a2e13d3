--[[
limits.lua — the send limits and the room access check shared by send.lua and event.lua (scripts.ts puts this file in
front of each script: Redis has no include). A change to a message costs what a message costs:
the same per-user-per-room rate and the same account-wide budget (issue 13).

Time comes from Redis TIME so every replica shares one clock.
]]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Per-user-per-room rate, GCRA (generic cell rate algorithm): one number, the theoretical
-- arrival time `tat` of the next send. Up to `limit` at once, then one per window/limit; a send
-- is refused while it would push `tat` more than a window ahead. Two commands (GET now, SET on
-- acceptance) where a sliding-window log took four and a ZSET.
-- Returns the next tat, or nil and the retry delay (ms).
local function rate_check(key, now, limit, window)
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local nextTat = tat + window / limit
  if nextTat - now > window then
    return nil, math.max(1, math.ceil(nextTat - now - window))
  end
  return nextTat
end

local function rate_commit(key, now, nextTat)
  redis.call('SET', key, string.format('%.3f', nextTat), 'PX', math.max(1, math.ceil(nextTat - now)))
end

-- Account-wide budget: the per-room limit alone lets one user fill Redis through many rooms.
-- ONE integer holds both counters, messages * 2^32 + bytes (bytes per window < 2^32 by the
-- config bound, messages < 2^20: exact in Lua's doubles), so the accepted path pays one INCRBY.
-- It is charged first and refunded on any refusal after it (invisible: scripts are atomic).
-- Returns a charge handle, or nil and the retry delay (ms).
local SHIFT = 4294967296
local function budget_charge(key, bytes, maxMessages, maxBytes, windowMs)
  local charge = SHIFT + bytes
  local b = { key = key, arg = string.format('%.0f', charge) }
  local total = redis.call('INCRBY', key, b.arg)
  b.fresh = total == charge -- the first change of a window: the key was just created
  if math.floor(total / SHIFT) > tonumber(maxMessages) or total % SHIFT > tonumber(maxBytes) then
    if b.fresh then redis.call('DEL', key) else redis.call('DECRBY', key, b.arg) end
    local retry = redis.call('PTTL', key)
    if retry == -1 then
      -- never expected (the window is set with the key), but never lock a user out forever
      redis.call('PEXPIRE', key, windowMs)
      retry = tonumber(windowMs)
    end
    if retry < 1 then retry = 1 end
    return nil, retry
  end
  return b
end

local function budget_refund(b)
  if b.fresh then redis.call('DEL', b.key) else redis.call('DECRBY', b.key, b.arg) end
end

local function budget_commit(b, windowMs)
  if b.fresh then redis.call('PEXPIRE', b.key, windowMs) end
end

-- The room's message index (keys.messageIndex): one entry per message of the last change
-- window, its id the message id. Returns the entry's fields as a table, or nil.
local function index_get(key, id)
  local e = redis.call('XRANGE', key, id, id)[1]
  if not e then return nil end
  local f = {}
  for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
  return f
end

-- The room's ACL (keys.roomAcl, membership/member.lua) for one user, one HMGET: whether they
-- may change the room now. `membersOnly` ('1' for private rooms and groups, by name) requires a
-- role; a public room without an ACL is open (wave 1, or not yet rebuilt after a Redis loss);
-- DMs have none (their name authorises). Returns nil and a refusal ({'no_access'}, {'banned'},
-- {'archived'}, {'muted', retryAfterMs}), or the user's role (false when none).
local function access_check(key, uid, membersOnly, now)
  local a = redis.call('HMGET', key, 'r:' .. uid, 'b:' .. uid, 'm:' .. uid, 'a')
  if membersOnly == '1' and not a[1] then return nil, { 'no_access' } end
  if a[2] then return nil, { 'banned' } end
  if a[4] then return nil, { 'archived' } end
  local mute = tonumber(a[3])
  if mute and mute > now then return nil, { 'muted', math.ceil(mute - now) } end
  return a[1]
end
