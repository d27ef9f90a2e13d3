--[[
typing.lua — one typing indicator, throttled per user per room and dropped in big rooms, in one
round trip (services/chat/typing.ts).

KEYS[1]  typing throttle   keys.typingThrottle(room, userId)   string, SET NX PX: present while
                                                                the user's typing window runs
KEYS[2]  presence set      keys.presence(room)                 ZSET (lua/presence.lua), read only:
                                                                its size is the room's member count
                           (both carry the room's {p} hash tag: the script is single-slot)

ARGV[1]  room channel      keys.roomChannel(room): a shard channel (SPUBLISH) of the same {p} hash tag
ARGV[2]  interval (ms)     one typing frame per user per room per this, over all the user's
                           sockets on every replica
ARGV[3]  events max        PRESENCE_EVENTS_MAX_MEMBERS: a room with more presence entries than
                           this gets no typing frames (each one reaches every member), as it
                           gets no join/leave events
ARGV[4]  payload           the `typing` frame to PUBLISH

Returns:  0  published
         -1  dropped: the room is over the events cap (nothing to retry)
         >0  throttled: ms until the user's window ends (the caller may retry its latest state then)
]]

if redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[3]) then return -1 end
if not redis.call('SET', KEYS[1], '1', 'PX', ARGV[2], 'NX') then
  local left = redis.call('PTTL', KEYS[1])
  if left < 1 then return 1 end
  return left
end
redis.call('SPUBLISH', ARGV[1], ARGV[4])
return 0
