--[[
member.lua — one membership or room change, atomically: authorise it against the room's ACL,
change the ACL, and append what happened as `member` / `room` events on the room log (own ids,
the partition's ingest stream, the room channel, the member's user channel). DESIGN.md "Rooms
with members"; the events' format is membership.ts, the frames' frames.ts.

KEYS[1] acl            keys.roomAcl(room)         HASH k a n r:<uid> b:<uid> m:<uid> u:<name> (keys.ts)
KEYS[2] room log       keys.roomLog(room)
KEYS[3] ingest stream  keys.ingestStreamOfRoom(room)
KEYS[4] room creates   keys.userRoomCreates(room, actor)   the creation cap send.lua also counts
KEYS[5] room counter   keys.roomSeq(room)          read only: a joined/invited event carries it (`sq`),
                                                   where the new member's read position starts

ARGV[1]  room channel         ARGV[2]  room              ARGV[3]  actor id     ARGV[4] actor name
ARGV[5]  cid                  ARGV[6]  op: create join invite leave kick ban unban mute unmute role topic archive unarchive
                                      automute (the replica, for a member who keeps sending past the rate limit:
                                      the actor is the system user, no rank needed)
ARGV[7]  target id (the actor for create, join, leave)   ARGV[8]  target name
ARGV[9]  op argument: mute seconds | new role | ''
ARGV[10] the room's kind by its name: public | private | group
ARGV[11] head of the first event's frame (frames.ts memberFrameHead / roomFrameHead)
ARGV[12] head of the second event's frame ('' unless create: the creator's `joined`; role owner:
         the old owner's `role`)
ARGV[13] ROOM_LOG_MAXLEN      ARGV[14] ROOM_LOG_IDLE_TTL_SEC   ARGV[15] INGEST_MAX_BACKLOG
ARGV[16] target's user channel                       ARGV[17] actor's user channel
ARGV[18] title (create; '' for none)                 ARGV[19] topic (create, topic)
ARGV[20] GROUP_MAX_MEMBERS    ARGV[21] ROOM_CREATE_MAX  ARGV[22] ROOM_CREATE_WINDOW_SEC
ARGV[23] PRESENCE_EVENTS_MAX_MEMBERS: a `joined` in a public room with at least this many members
         is logged, queued and sent to the joiner's own channel, but not published to the room —
         the presence rule: in a big room a wave of first joins would cost O(members²) frames

Returns {'ok', firstId, ts[, secondId]} or a refusal, nothing written. With ARGV[1] = ''
(REDIS_ACK_REPLICAS) nothing is published: {'ok', firstId, ts, secondId or '', channel, frame, …}
names what to publish after the WAIT ('' = the room channel, SPUBLISH; else a user channel).
  {'unchanged'}  already so (a member joining, a ban of the banned, the same role …)
  {'not_found'}  no such room — or a private room / group the actor is not in: the same answer,
                 so nobody learns a members-only room exists
  {'forbidden'}  the actor's role does not allow it (moderators act only on lower roles)
  {'banned'}     the actor (join) or the target (invite) is banned here
  {'archived'}   the room is archived: read only
  {'exists'}     create of a room that exists      {'full'} a group at GROUP_MAX_MEMBERS
  {'not_member'} the target is not a member         {'owner_must_transfer'} the owner leaving others behind
  {'overloaded', backlog}   {'room_rate', retryAfterMs} (as send.lua)

Who may do what: anyone not banned joins a public room (its first join creates it, counted
against ROOM_CREATE_MAX); members of public rooms and groups invite, admins and the owner of a
private room; owners and admins kick, ban, unban and mute members of a LOWER role (owner > admin
> member); only the owner changes roles, and `role owner` transfers ownership (the old owner
becomes an admin); admins and the owner change the topic (any member of a group) and archive.
A group has no owner: its members are equals.
Every member event carries the member's state after it (role, banned, mutedUntil), read back from
the ACL after the change, so stores and clients apply the newest event and need nothing else.
]]

local acl, log, ingest, creates, roomSeq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local channel, room, actor, actorName, cid, op = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local target, targetName, arg, kind = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local headA, headB = ARGV[11], ARGV[12]
local targetChannel, actorChannel = ARGV[16], ARGV[17]

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local RANK = { member = 0, admin = 1, owner = 2 }

local f = redis.call('HMGET', acl, 'k', 'a', 'n', 'r:' .. actor, 'b:' .. actor, 'r:' .. target, 'b:' .. target, 'm:' .. target)
local exists, archived, count = f[1], f[2], tonumber(f[3]) or 0
local actorRole, actorBanned, targetRole, targetBanned, targetMute = f[4], f[5], f[6], f[7], tonumber(f[8])
local membersOnly = kind == 'private' or kind == 'group'

local quiet = false -- set for a join into a big public room (ARGV[23])
-- No room channel: REDIS_ACK_REPLICAS; the frames are returned, published by the caller after
-- its WAIT (shared/replica-ack.ts) — pairs of (channel, frame), '' naming the room channel.
local deferred = channel == ''
local publications = {}

local function append(fields, frame, userChannel)
  local id = redis.call('XADD', log, 'MAXLEN', '~', ARGV[13], '*', unpack(fields))
  redis.call('EXPIRE', log, ARGV[14])
  redis.call('XADD', ingest, '*', 'room', room, 'id', id, unpack(fields))
  local ts = string.match(id, '^(%d+)-')
  local json = frame .. '"id":"' .. id .. '","ts":' .. ts .. '}'
  if deferred then
    if not quiet then table.insert(publications, ''); table.insert(publications, json) end
    if userChannel ~= '' then table.insert(publications, userChannel); table.insert(publications, json) end
    return id, ts
  end
  if not quiet then redis.call('SPUBLISH', channel, json) end
  if userChannel ~= '' then redis.call('PUBLISH', userChannel, json) end
  return id, ts
end

-- The member's state is read back AFTER the change: the event says what is now true.
local function memberEvent(head, action, uid, name, userChannel)
  local s = redis.call('HMGET', acl, 'r:' .. uid, 'b:' .. uid, 'm:' .. uid)
  -- The @mention directory (send.lua): a member's lowercased name → id, dropped when they are
  -- no member any more (unless the name now belongs to someone else).
  local nameKey = 'u:' .. string.lower(name)
  if s[1] and not s[2] then
    redis.call('HSET', acl, nameKey, uid)
  elseif redis.call('HGET', acl, nameKey) == uid then
    redis.call('HDEL', acl, nameKey)
  end
  local fields = { 'ev', 'member', 'act', action, 'uid', actor, 'name', actorName, 'cid', cid, 'mid', uid, 'mname', name }
  local state = ''
  if s[1] then
    table.insert(fields, 'role'); table.insert(fields, s[1])
    state = state .. '"role":"' .. s[1] .. '",'
  end
  if s[2] then
    table.insert(fields, 'ban'); table.insert(fields, '1')
    state = state .. '"banned":true,'
  end
  local mute = tonumber(s[3])
  if mute and mute > now then
    local ms = string.format('%.0f', mute)
    table.insert(fields, 'mute'); table.insert(fields, ms)
    state = state .. '"mutedUntil":' .. ms .. ','
  end
  if action == 'joined' or action == 'invited' then
    -- '0' in a room without messages yet: tells "nothing to skip" from an event written before seqs
    table.insert(fields, 'sq'); table.insert(fields, redis.call('GET', roomSeq) or '0')
  end
  return append(fields, head .. state, userChannel)
end

local function roomEvent(head, action, userChannel)
  local fields = { 'ev', 'room', 'act', action, 'uid', actor, 'name', actorName, 'cid', cid, 'rk', kind }
  if action == 'created' and ARGV[18] ~= '' then
    table.insert(fields, 'title'); table.insert(fields, ARGV[18])
  end
  if action == 'created' or action == 'topic' then
    table.insert(fields, 'topic'); table.insert(fields, ARGV[19])
  end
  if action == 'archived' then
    table.insert(fields, 'arch'); table.insert(fields, '1')
  end
  return append(fields, head, userChannel)
end

local function backlogFull()
  local backlog = redis.call('XLEN', ingest)
  if backlog > tonumber(ARGV[15]) then return backlog end
  return nil
end

-- The creation cap: nil when allowed, else the retry delay (ms).
local function createCapped()
  if (tonumber(redis.call('GET', creates)) or 0) < tonumber(ARGV[21]) then return nil end
  local retry = redis.call('PTTL', creates)
  if retry == -1 then
    redis.call('EXPIRE', creates, ARGV[22])
    retry = tonumber(ARGV[22]) * 1000
  end
  if retry < 1 then retry = 1 end
  return retry
end

local function countCreate()
  if redis.call('INCR', creates) == 1 then redis.call('EXPIRE', creates, ARGV[22]) end
end

local function main()
if op == 'create' then
  if exists then return { 'exists' } end
  local capped = createCapped()
  if capped then return { 'room_rate', capped } end
  local full = backlogFull()
  if full then return { 'overloaded', full } end
  redis.call('HSET', acl, 'k', kind, 'n', 1, 'r:' .. actor, kind == 'group' and 'member' or 'owner')
  countCreate()
  local id1, ts = roomEvent(headA, 'created', '')
  local id2 = memberEvent(headB, 'joined', actor, actorName, actorChannel)
  return { 'ok', id1, ts, id2 }
end

if op == 'join' then
  if membersOnly then
    if actorRole then return { 'unchanged' } end
    return { 'not_found' }
  end
  if actorBanned then return { 'banned' } end
  if actorRole then return { 'unchanged' } end
  if archived then return { 'archived' } end
  -- A public room without an ACL: a wave-1 room, one whose ACL a Redis loss took (until the
  -- rebuild), or a new room — only the last has no log either, and counts as a creation.
  local creating = not exists and redis.call('EXISTS', log) == 0
  if creating then
    local capped = createCapped()
    if capped then return { 'room_rate', capped } end
  end
  local full = backlogFull()
  if full then return { 'overloaded', full } end
  if not exists then redis.call('HSET', acl, 'k', 'public') end
  redis.call('HSET', acl, 'r:' .. actor, 'member')
  quiet = redis.call('HINCRBY', acl, 'n', 1) > tonumber(ARGV[23])
  if creating then countCreate() end
  local id, ts = memberEvent(headA, 'joined', actor, actorName, actorChannel)
  return { 'ok', id, ts }
end

if op == 'automute' then
  -- only the replica's flood control, acting as the system user (member-script.ts SYSTEM_USER)
  if actor ~= 'aurora' then return { 'forbidden' } end
  if not exists or not targetRole then return { 'not_member' } end
  if targetMute and targetMute > now then return { 'unchanged' } end
  local full = backlogFull()
  if full then return { 'overloaded', full } end
  redis.call('HSET', acl, 'm:' .. target, string.format('%.0f', now + tonumber(arg) * 1000))
  local id, ts = memberEvent(headA, 'muted', target, targetName, targetChannel)
  return { 'ok', id, ts }
end

-- Every other op needs a room that exists and, for a members-only one, an actor inside it.
if not exists or (membersOnly and not actorRole) then return { 'not_found' } end

if op == 'leave' then
  if not actorRole then return { 'unchanged' } end
  if actorRole == 'owner' and count > 1 then return { 'owner_must_transfer' } end
  local full = backlogFull()
  if full then return { 'overloaded', full } end
  redis.call('HDEL', acl, 'r:' .. actor)
  redis.call('HINCRBY', acl, 'n', -1)
  local id, ts = memberEvent(headA, 'left', actor, actorName, actorChannel)
  return { 'ok', id, ts }
end

if op == 'archive' or op == 'unarchive' then
  if not actorRole or RANK[actorRole] < RANK.admin or kind == 'group' then return { 'forbidden' } end
  if (op == 'archive') == (archived and true or false) then return { 'unchanged' } end
  local full = backlogFull()
  if full then return { 'overloaded', full } end
  if op == 'archive' then redis.call('HSET', acl, 'a', '1') else redis.call('HDEL', acl, 'a') end
  local id, ts = roomEvent(headA, op == 'archive' and 'archived' or 'unarchived', '')
  return { 'ok', id, ts }
end

if archived then return { 'archived' } end

if op == 'invite' then
  if not actorRole then return { 'forbidden' } end
  if kind == 'private' and RANK[actorRole] < RANK.admin then return { 'forbidden' } end
  if targetBanned then return { 'banned' } end
  if targetRole then return { 'unchanged' } end
  if kind == 'group' and count >= tonumber(ARGV[20]) then return { 'full' } end
  local full = backlogFull()
  if full then return { 'overloaded', full } end
  redis.call('HSET', acl, 'r:' .. target, 'member')
  redis.call('HINCRBY', acl, 'n', 1)
  local id, ts = memberEvent(headA, 'invited', target, targetName, targetChannel)
  return { 'ok', id, ts }
end

if op == 'topic' then
  if not actorRole or (kind ~= 'group' and RANK[actorRole] < RANK.admin) then return { 'forbidden' } end
  local full = backlogFull()
  if full then return { 'overloaded', full } end
  local id, ts = roomEvent(headA, 'topic', '')
  return { 'ok', id, ts }
end

if op == 'role' then
  if actorRole ~= 'owner' or target == actor then return { 'forbidden' } end
  if not targetRole then return { 'not_member' } end
  if targetRole == arg then return { 'unchanged' } end
  local full = backlogFull()
  if full then return { 'overloaded', full } end
  redis.call('HSET', acl, 'r:' .. target, arg)
  local id, ts = memberEvent(headA, 'role', target, targetName, targetChannel)
  if arg == 'owner' then
    redis.call('HSET', acl, 'r:' .. actor, 'admin')
    local id2 = memberEvent(headB, 'role', actor, actorName, actorChannel)
    return { 'ok', id, ts, id2 }
  end
  return { 'ok', id, ts }
end

-- Moderation: the actor must be an admin or the owner, and outrank the target.
if not actorRole or RANK[actorRole] < RANK.admin or RANK[actorRole] <= RANK[targetRole or 'member'] then
  return { 'forbidden' }
end
if target == actor then return { 'forbidden' } end

local action
if op == 'kick' then
  if not targetRole then return { 'not_member' } end
  action = 'kicked'
elseif op == 'ban' then
  if targetBanned then return { 'unchanged' } end
  action = 'banned'
elseif op == 'unban' then
  if not targetBanned then return { 'unchanged' } end
  action = 'unbanned'
elseif op == 'mute' then
  if not targetRole then return { 'not_member' } end
  action = 'muted'
elseif op == 'unmute' then
  if not targetMute or targetMute <= now then return { 'unchanged' } end
  action = 'unmuted'
else
  return redis.error_reply('unknown op ' .. op)
end

local full = backlogFull()
if full then return { 'overloaded', full } end
if op == 'kick' or (op == 'ban' and targetRole) then
  redis.call('HDEL', acl, 'r:' .. target)
  redis.call('HINCRBY', acl, 'n', -1)
end
if op == 'ban' then redis.call('HSET', acl, 'b:' .. target, '1') end
if op == 'unban' then redis.call('HDEL', acl, 'b:' .. target) end
if op == 'mute' then redis.call('HSET', acl, 'm:' .. target, string.format('%.0f', now + tonumber(arg) * 1000)) end
if op == 'unmute' then redis.call('HDEL', acl, 'm:' .. target) end
local id, ts = memberEvent(headA, action, target, targetName, targetChannel)
return { 'ok', id, ts }
end

local reply = main()
if deferred and reply[1] == 'ok' then
  reply[4] = reply[4] or ''
  for _, v in ipairs(publications) do table.insert(reply, v) end
end
return reply
