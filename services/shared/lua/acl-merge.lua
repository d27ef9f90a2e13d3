--[[
acl-merge.lua — puts one room's ACL from the store back into Redis (acl-rebuild.ts) after Redis
lost its data. A MERGE: what joined since the loss (public rooms re-create their ACL on join)
stays; what the store knows is set on top; a banned user loses a role a join in the gap gave
them. Then `n` is recounted from the roles present.

With ARGV[1] = 'replace' the ACL is the store's alone (`cli membership rebuild --replace`, after
restoring an old snapshot whose ACLs still hold members removed since).

KEYS[1] acl   keys.roomAcl(room)
ARGV[1] 'merge' | 'replace'
ARGV[2…] field value pairs (k, a, r:<uid>, u:<name>, b:<uid>, m:<uid>)
]]
if ARGV[1] == 'replace' then redis.call('DEL', KEYS[1]) end
if #ARGV > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'b:' then redis.call('HDEL', KEYS[1], 'r:' .. string.sub(f, 3)) end
end
-- Recount members, and drop @mention names (u:) of users without a role any more.
local n = 0
local all = redis.call('HGETALL', KEYS[1])
local role = {}
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'r:' then
    n = n + 1
    role[string.sub(all[i], 3)] = true
  end
end
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'u:' and not role[all[i + 1]] then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('HSET', KEYS[1], 'n', n)
return n
