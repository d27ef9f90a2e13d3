// Every Redis key and channel name is built here; nothing else concatenates keys.
//
// Cluster-ready layout: all keys and the channel one send touches carry the same hash tag
// `{p}`, p = hash(room) mod PARTITIONS, so the send script is single-slot on Redis Cluster,
// including its SPUBLISH: room channels are shard channels (sharded pub/sub, Redis 7), served by
// the room's master alone instead of broadcast to every node. Each partition has its own ingest
// stream; ingestion workers read all of them.

export const KEY_ROOT = 'aurora';
export const INGEST_GROUP = 'ingestion';

/** FNV-1a over UTF-16 code units: stable across processes and languages, cheap. */
export function partitionOf(room: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < room.length; i++) {
    h ^= room.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

const tag = (p: number) => `${KEY_ROOT}:{${p}}`;

export function keysFor(partitions: number) {
  const p = (room: string) => partitionOf(room, partitions);
  return {
    partitions,
    partitionOf: p,
    /** Capped stream: the room's recent messages; its entry ids ARE the message ids. */
    roomLog: (room: string) => `${tag(p(room))}:log:${room}`,
    /** Shard channel (SPUBLISH/SSUBSCRIBE) for live fan-out of one room: its partition's master alone carries it. */
    roomChannel: (room: string) => `${tag(p(room))}:room:${room}`,
    /** Durable queue read by the ingestion consumer group, one per partition. */
    ingestStream: (partition: number) => `${tag(partition)}:ingest`,
    ingestStreamOfRoom: (room: string) => `${tag(p(room))}:ingest`,
    allIngestStreams: () => Array.from({ length: partitions }, (_, i) => `${tag(i)}:ingest`),
    /** Entries the workers gave up on, with the reason. */
    deadLetter: (partition: number) => `${tag(partition)}:ingest:dead`,
    /** Idempotency record of a client message id: user + room + cid -> message id. */
    sendIdempotency: (room: string, userId: string, cid: string) =>
      `${tag(p(room))}:cid:${room}:${userId}:${cid}`,
    /** Per-user-per-room send rate: GCRA arrival time (send.lua). */
    // `room-rate`, not the old `rate` (a ZSET): a rolling deploy must not meet the old type.
    sendRate: (room: string, userId: string) => `${tag(p(room))}:room-rate:${room}:${userId}`,
    /**
     * Account-wide send budget (one integer: messages * 2^32 + text bytes, fixed window; send.lua). In the ROOM's
     * partition so the send script stays single-slot: it is per (user, partition), not per user.
     */
    userSendBudget: (room: string, userId: string) => `${tag(p(room))}:user-send:${userId}`,
    /** Rooms a user created (first send into a room without a log), fixed window; per (user, partition) like userSendBudget. */
    userRoomCreates: (room: string, userId: string) => `${tag(p(room))}:room-create:${userId}`,
    /**
     * The room's change index (event.lua, send.lua): a STREAM whose entry ids are the ids of the
     * room's messages of the last MESSAGE_CHANGE_WINDOW_SEC (trimmed with MINID), fields `u`
     * (author) and, for a reply, `p` (its parent). A deleted message's entry is removed. It is
     * how the scripts know a message exists and who wrote it, whatever the room log still holds.
     */
    messageIndex: (room: string) => `${tag(p(room))}:msgs:${room}`,
    /**
     * The room's message counter (send.lua: one INCR per top-level message, its value the
     * message's `seq`). Never expires: unread counts are differences of seqs, so it must never go
     * back (acl-rebuild.ts restores it from the store after a Redis loss).
     */
    roomSeq: (room: string) => `${tag(p(room))}:seq:${room}`,
    /**
     * Uploads a `send` may name (users service files-routes.ts writes at upload, send.lua takes):
     * HASH upload id → "<owner uid> <Attachment JSON>" (attachments.ts attachmentJson); a send
     * replaces what it names with "~<message id>", so an upload goes in one message and readers
     * know it was sent before ingestion stores it. EXPIREs ATTACHMENT_ORPHAN_TTL_SEC after the
     * newest upload: what was never sent by then is collected from the store too.
     */
    roomUploads: (room: string) => `${tag(p(room))}:uploads:${room}`,
    /** Members' read positions (read.lua): HASH uid → "<seq> <message id>"; only moves forward. */
    roomReads: (room: string) => `${tag(p(room))}:reads:${room}`,
    /** One message's reactions (event.lua): HASH `<emoji>` → count, `<emoji>\n<uid>` → 1, `#` → emoji in use. */
    reactions: (room: string, id: string) => `${tag(p(room))}:reactions:${room}:${id}`,
    /** One thread's live counters (send.lua, event.lua): HASH c → replies not deleted. */
    thread: (room: string, parentId: string) => `${tag(p(room))}:thread:${room}:${parentId}`,
    /**
     * The room's access list (membership/member.lua, and read by send.lua and event.lua with one
     * HMGET): HASH `k` → kind, `a` → '1' when archived, `n` → members, `r:<uid>` → role,
     * `b:<uid>` → '1' banned, `m:<uid>` → muted until (ms), `u:<lowercased username>` → uid of a
     * member (send.lua resolves @mentions with it; may outlive a membership: checked with r:). In the room's `{p}` slot, so the send
     * script checks membership in the same atomic call. DMs have none (their name authorises);
     * a public room without one is open to all (a wave-1 room, or one not yet rebuilt after a
     * Redis loss: acl-rebuild.ts).
     */
    roomAcl: (room: string) => `${tag(p(room))}:acl:${room}`,
    /**
     * A user's channel (user-channels.ts): what concerns one person wherever they are connected —
     * invites, kicks, new DMs. Not hash-tagged: on Redis Cluster it stays classic PUBLISH, which
     * a script may publish from any slot (SPUBLISH could not: it must share the script's slot).
     */
    userChannel: (userId: string) => `${KEY_ROOT}:user:${userId}`,
    /**
     * A user's presence status (chat/user-status.ts writes, shared/user-status.ts reads): HASH
     * `on` → ms until which some replica vouches the user has a socket (refreshed every
     * PRESENCE_TTL_SEC/3), `act` → last activity (ms), `aw` → '1' when a device said "away" and
     * none was active since, `seen` → when a replica's last socket of the user closed. Global (not
     * room-tagged): one user, every room.
     */
    userStatus: (userId: string) => `${KEY_ROOT}:status:${userId}`,
    /** Set once the ACLs were rebuilt from the store (acl-rebuild.ts): missing after a Redis loss. */
    aclsLoaded: () => `${KEY_ROOT}:acls-loaded`,
    /** Sorted set: member = `<userId>|<name>|<replicaId>`, score = expiry time (ms) refreshed by that replica. */
    presence: (room: string) => `${tag(p(room))}:presence:${room}`,
    /** Lex index of the presence entries (score 0, same members): a user's entries by ZRANGEBYLEX `[uid|`. */
    presenceIndex: (room: string) => `${tag(p(room))}:presence-idx:${room}`,
    /** Sends of one user in one room refused by the rate limit, per minute (chat/auto-mute.ts). */
    rateStrikes: (room: string, userId: string) => `${tag(p(room))}:rate-strikes:${room}:${userId}`,
    /** Per-user-per-room typing throttle (SET NX PX, lua/typing.lua); in the room's `{p}` slot. */
    typingThrottle: (room: string, userId: string) => `${tag(p(room))}:typing:${room}:${userId}`,
    /** A replica's private channel for its pub/sub liveness probe (classic pub/sub: user channels, revocations). */
    probeChannel: (replicaId: string) => `${KEY_ROOT}:probe:${replicaId}`,
    /** The same per partition, a shard channel: each master carrying room channels is probed on its own. */
    shardProbeChannel: (partition: number, replicaId: string) => `${tag(partition)}:probe:${replicaId}`,
    /** Failed logins per username + client IP (IPv6: its /64, ipBucket in users/ip-limits.ts). */
    loginFailures: (username: string, ip: string) => `${KEY_ROOT}:login-fail:${username.toLowerCase()}:${ip}`,
    /** Failed logins per username from all IPs: hash {f: failures, t: last failure ms} (users/lua/login-account.lua). */
    loginAccountFailures: (username: string) => `${KEY_ROOT}:login-account:${username.toLowerCase()}`,
    /** A client network (IP or IPv6 /64) this username signed in from: skips the per-account delay. */
    loginKnownClient: (username: string, ip: string) => `${KEY_ROOT}:login-known:${username.toLowerCase()}:${ip}`,
    /** Login attempts per client IP (any username), fixed window. */
    loginAttemptsPerIp: (ip: string) => `${KEY_ROOT}:login-ip:${ip}`,
    /** Registration attempts per client IP, fixed window. */
    registerAttemptsPerIp: (ip: string) => `${KEY_ROOT}:register-ip:${ip}`,
    /** Signed-in REST requests per user id, fixed window (REST_MAX_PER_USER). */
    /** Held by the users replica collecting attachments this interval (files-gc.ts). */
    filesCollectorLock: () => `${KEY_ROOT}:files-collector`,
    /**
     * Deleted accounts whose messages are still to be removed (DELETE_MESSAGES_WITH_ACCOUNT):
     * ZSET user id → deletion time, ms (users/account-purge.ts works it off under the collector's lock).
     */
    accountPurges: () => `${KEY_ROOT}:account-purges`,
    /** Uploads a user started in the current minute (files-routes.ts, ATTACHMENT_UPLOADS_PER_MIN). */
    uploadsPerUser: (userId: string) => `${KEY_ROOT}:uploads-user:${userId}`,
    restRequestsPerUser: (userId: string) => `${KEY_ROOT}:rest-user:${userId}`,
    /** A revoked session (refresh family id): set by logout/theft detection, TTL = access token life. */
    revokedSession: (sid: string) => `${KEY_ROOT}:revoked-session:${sid}`,
    /** Re-presentations of one spent refresh token within the reuse grace window (by token hash). */
    refreshReuse: (tokenHash: string) => `${KEY_ROOT}:refresh-reuse:${tokenHash}`,
    /** Pub/sub channel every chat replica listens on: a revoked session id, its sockets close with 4001. */
    sessionRevocations: () => `${KEY_ROOT}:revocations`,
    /** WebSocket handshakes per user id, fixed window (HANDSHAKE_MAX_PER_USER). */
    handshakesPerUser: (userId: string) => `${KEY_ROOT}:ws-user:${userId}`,
    /** WebSocket handshakes per client IP (IPv6 /64, ipBucket), fixed window (HANDSHAKE_MAX_PER_IP). */
    handshakesPerIp: (ip: string) => `${KEY_ROOT}:ws-ip:${ip}`,

    // --- the assistant (services/assistant/) ---
    /**
     * One trigger message's answer (assistant/jobs.ts): HASH answer (the placeholder's id), asker,
     * state (answering | done), attempts. What makes it one answer per trigger across kill -9.
     * In the room's `{p}` slot with assistantAnswer: jobs.ts writes both in one MULTI.
     */
    assistantJob: (room: string, triggerId: string) => `${tag(p(room))}:assistant:job:${room}:${triggerId}`,
    /** The asker of an answer in progress (the stop route checks it), by the placeholder's id. */
    assistantAnswer: (room: string, answerId: string) => `${tag(p(room))}:assistant:answer:${room}:${answerId}`,
    /** Pub/sub: `<room> <answer id>` of an answer its asker stopped (every assistant process listens). */
    assistantStops: () => `${KEY_ROOT}:assistant:stops`,
    /** Questions per user, fixed window (ASSISTANT_USER_REQUESTS). */
    assistantRequests: (userId: string) => `${KEY_ROOT}:assistant:requests:${userId}`,
    /** Tokens used by one user's questions on one UTC day (`YYYY-MM-DD`). */
    assistantTokens: (userId: string, day: string) => `${KEY_ROOT}:assistant:tokens:${userId}:${day}`,
  };
}

export type Keys = ReturnType<typeof keysFor>;
