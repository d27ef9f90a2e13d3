-- Removes consumers of a group that have nothing pending and have been idle for a while, so
-- the names of dead workers (a new pod name per restart) do not pile up. Atomic: a consumer
-- that reads between the check and the delete would lose the entries it just read (DELCONSUMER
-- drops its pending list), so check and delete run as one script.
--
-- KEYS[1]  the ingest stream
-- ARGV[1]  the consumer group
-- ARGV[2]  minimum idle time in ms
-- ARGV[3]  the calling consumer's own name (never removed)
-- Returns  the names removed.
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return {} end
local minIdle = tonumber(ARGV[2])
local removed = {}
for _, c in ipairs(consumers) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if name and name ~= ARGV[3] and pending == 0 and idle and idle >= minIdle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed[#removed + 1] = name
  end
end
return removed
