-- Re-drives one dead letter (`cli dead-letters redrive`, services/cli/dead-letter-removal.ts),
-- atomically: XADD its original ingest fields back to the partition's ingest stream and XDEL it
-- from the dead-letter stream, or neither. Both keys carry the same {p} hash tag, so this is
-- single-slot on Redis Cluster.
--
-- KEYS[1]  the partition's dead-letter stream (keys.deadLetter(p))
-- KEYS[2]  the partition's ingest stream (keys.ingestStream(p))
-- ARGV[1]  the dead-letter entry id
-- ARGV[2..] the original ingest fields, in message.ts ingestEntryFields (a message) or ingestEventFields (an event) order
--           (room id uid name text cid), already checked with parseIngestEntry
-- Returns  the new ingest entry id, or false when the dead letter is gone (someone else
--          re-drove or deleted it in between): nothing is written then.
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[2], '*', unpack(fields))
redis.call('XDEL', KEYS[1], ARGV[1])
return id
