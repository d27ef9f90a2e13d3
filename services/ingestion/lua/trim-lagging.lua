-- Trims an ingest stream past the groups the trimmer stopped waiting for (trimmer.ts: a group
-- other than storage's that lags more than NOTIFY_MAX_LAG), and repairs their lag counter in
-- the same atomic call.
--
-- Why the repair: Redis 7.0 reports a group's lag as entries-added minus entries-read, and
-- trimming entries the group never read changes neither, so the lag would stay too high for
-- good and the group would never be waited for again (each trim then taking what it has not
-- read yet). XGROUP SETID at the group's OWN last-delivered-id (nothing re-delivered, nothing
-- skipped), without ENTRIESREAD, marks its counter unknown: Redis then derives the lag from the
-- stream itself (all that is left is unread by the group), and the counter is valid again from
-- the group's next read.
--
-- KEYS[1]   the ingest stream
-- ARGV[1]   MINID: the oldest entry a waited-for group still needs
-- ARGV[2..] the groups not waited for
-- Returns   {removed, group, unreadTrimmed, group, unreadTrimmed, ...}: for each such group
--           whose unread entries were trimmed, how many (-1 when Redis could not tell its lag).
local function groups(stream)
  local out = {}
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local f = {}
    for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
    out[f['name']] = f
  end
  return out
end

-- a < b for stream ids `<ms>-<seq>` (decimal, no leading zeros: shorter is smaller).
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if am ~= bm then
    if #am ~= #bm then return #am < #bm end
    return am < bm
  end
  if #as ~= #bs then return #as < #bs end
  return as < bs
end

local before_trim = groups(KEYS[1])
local removed = redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
local out = { removed }
if removed == 0 then return out end
for i = 2, #ARGV do
  local g = before_trim[ARGV[i]]
  if g and before(g['last-delivered-id'], ARGV[1]) then
    redis.call('XGROUP', 'SETID', KEYS[1], ARGV[i], g['last-delivered-id'])
    local after = groups(KEYS[1])[ARGV[i]]
    local n = -1
    if g['lag'] and after and after['lag'] then n = g['lag'] - after['lag'] end
    out[#out + 1] = ARGV[i]
    out[#out + 1] = n
  end
end
return out
