--[[
login-account.lua — the per-username login budget over ALL client IPs (users/login-throttle.ts).
The first failures are free; after that every attempt must wait an exponentially growing delay
after the previous failure (1 s, 2 s, 4 s … up to the cap). Checked and counted in one step, so
a burst of parallel attempts from many IPs cannot all pass the same check.

KEYS[1]  account failures   keys.loginAccountFailures(username)   HASH f = failures counted,
                                                                    t = time of the last one (ms)
ARGV[1]  free failures      LOGIN_ACCOUNT_FREE_FAILURES
ARGV[2]  max delay (ms)     LOGIN_ACCOUNT_MAX_DELAY_SEC * 1000
ARGV[3]  forget after (s)   LOGIN_WINDOW_SEC: the hash expires this long after the last failure

Returns 0 when the attempt may go on: it is counted as a failure NOW (a successful login DELs the
key), like the username + IP counter reserves its slot before bcrypt. Otherwise the milliseconds
until the next attempt is allowed, and nothing is counted: waiting out the delay is enough, a
refused attempt never makes it longer. Time is Redis's own (TIME): one clock for every replica.
]]
local free = tonumber(ARGV[1])
local maxDelay = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'f', 't')
local failures = tonumber(state[1]) or 0
local last = tonumber(state[2]) or 0
if failures >= free then
  -- exponent capped: 2^40 s is far past any cap, and keeps the number finite
  local delay = math.min(maxDelay, 1000 * 2 ^ math.min(failures - free, 40))
  local wait = last + delay - now
  if wait > 0 then return math.ceil(wait) end
end
redis.call('HSET', KEYS[1], 'f', string.format('%d', failures + 1), 't', string.format('%d', now))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 0
