// The one place configuration is read. Every service parses the same schema once at start,
// gets a frozen typed object, and a bad value stops the process with one line naming the
// variable. README's configuration table, docker-compose.yml and k8s/ use exactly these names
// (a test checks that), so adding a variable here is the whole job of adding one.
import { hostname } from 'node:os';
import { z } from 'zod';

export type ServiceName = 'users' | 'chat' | 'ingestion' | 'assistant';

const DEFAULT_PORT: Record<ServiceName, number> = { users: 4000, chat: 8080, ingestion: 9090, assistant: 9091 };
/** ADMIN_PORT unset: PORT plus this (README "Operating it"). */
export const ADMIN_PORT_OFFSET = 10_000;
export const DEV_JWT_SECRET = 'dev-only-insecure-jwt-secret-change-me';

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
const list = (def: string) =>
  z
    .string()
    .default(def)
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

/** Environment variables, by their real names, with defaults written next to each field. */
export const envSchema = z.object({
  // --- every service ---
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Pretty-printed logs; defaults to on outside production. */
  LOG_PRETTY: z.enum(['true', 'false', 'auto']).default('auto'),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /**
   * The admin listener: /metrics and /readyz (and /healthz), never routed by the Ingress or the
   * load balancer. Unset: PORT + 10000 (users 14000, chat 18080, ingestion 19090, assistant 19091),
   * so several services and replicas on one machine do not collide; 0: any free port (logged).
   * Always its own port: equal to PORT is refused.
   */
  ADMIN_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /**
   * Listen address. Unset: 0.0.0.0 with NODE_ENV=production (containers, pods), else 127.0.0.1 —
   * a development run accepts tokens signed with the public DEV_JWT_SECRET, so by default it is
   * reachable from this machine only.
   */
  HOST: z.string().min(1).optional(),
  REPLICA_ID: z.string().min(1).max(64).optional(),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /**
   * Redis Cluster seed nodes, `host:port,host:port,…` (any masters or replicas; the rest are
   * discovered). Set: every service uses ioredis' Cluster client (shared/redis.ts) and REDIS_URL
   * only lends its credentials and TLS (rediss://) to the nodes. Unset: the single Redis at REDIS_URL.
   */
  REDIS_CLUSTER_NODES: list(''),
  /**
   * Replicas that must hold a write before its ack (shared/replica-ack.ts): every send, event and
   * membership change is followed by WAIT n. 0: acked when the master has it (replication is
   * asynchronous; a failover can lose the last acks). Needs n replicas per master, or every write fails.
   */
  REDIS_ACK_REPLICAS: int(0, 0, 5),
  /** The WAIT's timeout: fewer replicas in time is a retryable `overloaded` refusal, never an ack. */
  REDIS_ACK_TIMEOUT_MS: int(500, 10, 10_000),
  /** Unset: the embedded SQLite store. Set: MongoDB through mongoose. */
  MONGO_URL: z.string().min(1).optional(),
  SQLITE_PATH: z.string().min(1).default('.data/aurora.db'),
  JWT_SECRET: z.string().min(1).default(DEV_JWT_SECRET),
  /** `iss` of access tokens, signed and required: environments sharing a secret by mistake still reject each other's tokens. */
  JWT_ISSUER: z.string().min(1).max(200).default('aurorachat'),
  /** `aud` of access tokens, signed and required (as JWT_ISSUER). */
  JWT_AUDIENCE: z.string().min(1).max(200).default('aurorachat'),
  /** Redis hash-tag partitions; a room's keys live in partition hash(room) mod PARTITIONS. */
  PARTITIONS: int(1, 1, 1024),
  SHUTDOWN_DRAIN_MS: int(10_000, 0, 300_000),

  // --- users service ---
  ACCESS_TOKEN_TTL_SEC: int(900, 5, 86_400),
  REFRESH_TOKEN_TTL_SEC: int(30 * 86_400, 60, 365 * 86_400),
  BCRYPT_COST: int(10, 4, 15),
  LOGIN_MAX_FAILURES: int(10, 1, 1000),
  LOGIN_WINDOW_SEC: int(900, 1, 86_400),
  /** Login attempts (any username, right or wrong) per client IP per LOGIN_WINDOW_SEC: caps bcrypt work. */
  LOGIN_MAX_PER_IP: int(100, 1, 1_000_000),
  /**
   * Failed logins for one username from ALL IPs together that cost nothing; each further attempt
   * must wait 1 s, 2 s, 4 s … (at most LOGIN_ACCOUNT_MAX_DELAY_SEC) after the previous failure.
   * Failures are forgotten LOGIN_WINDOW_SEC after the last one, and a successful login resets
   * them: credential stuffing from many IPs is slowed to a crawl. A network the user signed in
   * from before (30 days) skips this delay, so an ongoing attack cannot lock the real user out.
   */
  LOGIN_ACCOUNT_FREE_FAILURES: int(20, 1, 1_000_000),
  LOGIN_ACCOUNT_MAX_DELAY_SEC: int(300, 1, 86_400),
  /** Registrations (each one bcrypt hash) per client IP per REGISTER_WINDOW_SEC. */
  REGISTER_MAX_PER_IP: int(20, 1, 1_000_000),
  /** The fixed window (from the first registration) REGISTER_MAX_PER_IP counts in. */
  REGISTER_WINDOW_SEC: int(3600, 1, 86_400),
  /** A refresh token re-presented within this many seconds of being spent gets a new pair, not a revocation; 0 = off. */
  REFRESH_REUSE_GRACE_SEC: int(30, 0, 300),
  /**
   * Signed-in REST requests (history, rooms, users, me) per user per REST_WINDOW_SEC, across
   * users replicas (Redis). The browser client makes a few per minute; a script paging history
   * as fast as it can is stopped here.
   */
  REST_MAX_PER_USER: int(300, 1, 1_000_000),
  REST_WINDOW_SEC: int(60, 1, 86_400),
  /** A history page holds at most this many bytes of messages (fewer messages, hasMore:true). */
  HISTORY_PAGE_MAX_BYTES: int(256 * 1024, 16 * 1024, 16 * 1024 * 1024),
  /** WebSocket URL handed to browsers in /config.json; empty = same host, chat port 8080. */
  PUBLIC_WS_URL: z.string().default(''),
  FRONTEND_DIR: z.string().default('frontend'),
  /**
   * One proxy hop (the ingress) is trusted: the client IP is the last X-Forwarded-For entry.
   * Read by the users service (per-IP budgets) and by chat replicas (HANDSHAKE_MAX_PER_IP).
   */
  TRUST_PROXY: bool(false),

  // --- chat replicas ---
  ALLOWED_ORIGINS: list('http://localhost:4000,http://127.0.0.1:4000'),
  HEARTBEAT_MS: int(30_000, 100, 600_000),
  MAX_PAYLOAD_BYTES: int(64 * 1024, 1024, 1024 * 1024),
  MAX_CONNECTIONS: int(10_000, 1, 1_000_000),
  MAX_CONNECTIONS_PER_USER: int(20, 1, 10_000),
  MAX_ROOMS_PER_CONNECTION: int(100, 1, 10_000),
  MAX_FRAMES_PER_SEC: int(30, 1, 10_000),
  /**
   * Write batching (services/chat/wire.ts): after a socket write, fan-out frames for that socket
   * arriving within WRITE_DELAY_MS wait and leave in one write; the first frame after a quiet
   * spell goes at once. 0 turns it off (one write per frame per event-loop turn).
   */
  WRITE_DELAY_MS: int(20, 0, 1000),
  /** Bytes a socket queues before it writes without waiting (the per-write cap). */
  WRITE_MAX_BYTES: int(64 * 1024, 1024, 16 * 1024 * 1024),
  /** Fan-out frames a write window gathers at most: with this many waiting they leave at once. */
  WRITE_MAX_FRAMES: int(64, 1, 10_000),
  /** Send buffer (bytes) past which a slow consumer is closed with 4008. */
  MAX_BUFFERED_BYTES: int(4 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
  /**
   * Largest reply frame (`joined`) in bytes, and the most a subscriber recovery delivers per
   * room: past it a join with `since` answers recovered:false with the newest messages that
   * fit (the client pages REST history), and a recovery resyncs the room with 1012. Must be
   * below MAX_BUFFERED_BYTES (min 32 KiB: one 4,000-character message always fits).
   */
  REPLY_MAX_BYTES: int(256 * 1024, 32 * 1024, 64 * 1024 * 1024),
  /**
   * WebSocket handshakes per user per HANDSHAKE_WINDOW_SEC, across replicas (Redis): each one
   * costs a join of every room (a backlog read each). High enough for a user with many tabs
   * reconnecting several times during a rolling deploy.
   */
  HANDSHAKE_MAX_PER_USER: int(120, 1, 10_000_000),
  /** The same per client IP (IPv6 per /64), any user: high, as an office or carrier NAT shares one IP. */
  HANDSHAKE_MAX_PER_IP: int(2000, 1, 10_000_000),
  /** The fixed window (from the first handshake in it) both handshake budgets count in. */
  HANDSHAKE_WINDOW_SEC: int(60, 1, 86_400),
  RATE_LIMIT_MESSAGES: int(20, 1, 100_000),
  RATE_LIMIT_WINDOW_MS: int(10_000, 100, 3_600_000),
  /**
   * Account-wide send budget (all rooms together), checked inside the send script: at most this
   * many messages per USER_SEND_WINDOW_MS. RATE_LIMIT_MESSAGES is per room, and rooms are created
   * by first use, so without this one account could fill Redis by spreading over many rooms.
   * Counted per (user, partition): the key must share the room's `{p}` hash tag to keep the
   * script single-slot on Redis Cluster, so with PARTITIONS=P the account-wide bound is P × this.
   */
  USER_SEND_MAX_MESSAGES: int(60, 1, 1_000_000),
  /** The same budget in UTF-8 bytes of message text (min 16 KiB: one 4,000-character message always fits). */
  USER_SEND_MAX_BYTES: int(128 * 1024, 16 * 1024, 1024 * 1024 * 1024),
  /** The fixed window (from the first send in it) both user budgets count in. */
  USER_SEND_WINDOW_MS: int(60_000, 1000, 86_400_000),
  /**
   * Rooms one account may create per ROOM_CREATE_WINDOW_SEC: a send into a room whose log does
   * not exist (never used, or idle past ROOM_LOG_IDLE_TTL_SEC) creates it and counts here.
   * Per (user, partition) like the send budget: with PARTITIONS=P the account-wide bound is P × this.
   */
  ROOM_CREATE_MAX: int(20, 1, 1_000_000),
  /**
   * A member whose sends in one room are refused by the rate limit AUTO_MUTE_AFTER times within a
   * minute (a client that ignores retryAfterMs) is muted there for AUTO_MUTE_SEC (0: never), as a
   * moderator would (a `member` event "muted" by the system user). DMs are never muted.
   */
  AUTO_MUTE_AFTER: int(30, 1, 100_000),
  AUTO_MUTE_SEC: int(300, 0, 30 * 86_400),
  ROOM_CREATE_WINDOW_SEC: int(3600, 1, 7 * 86_400),
  ROOM_LOG_MAXLEN: int(5000, 10, 10_000_000),
  /** Idle expiry of a room log, renewed by every send (history then comes from the store). */
  ROOM_LOG_IDLE_TTL_SEC: int(7 * 86_400, 60, 365 * 86_400),
  /**
   * How long a message can be edited, deleted, reacted to or replied to. Redis keeps each room's
   * message index (id → author, ~25 bytes a message) for this long; older messages are history.
   */
  MESSAGE_CHANGE_WINDOW_SEC: int(30 * 86_400, 60, 365 * 86_400),
  JOIN_HISTORY: int(50, 0, 500),
  RECOVERY_MAX: int(500, 1, 500),
  IDEMPOTENCY_TTL_SEC: int(600, 1, 86_400),
  PRESENCE_TTL_SEC: int(30, 2, 3600),
  /**
   * A connected user with no activity on any device (frames other than heartbeats and reads, or
   * the client's own `status` frame) for this long shows as `away`; the browser also says "away"
   * itself after this long without input.
   */
  AWAY_AFTER_SEC: int(300, 10, 86_400),
  /**
   * Rooms with more presence entries than this announce no joins/leaves: each event goes to
   * every member, so in a big room a reconnect wave or a rolling deploy would cost O(members²)
   * frames. Their members still get the member list in `joined`.
   */
  PRESENCE_EVENTS_MAX_MEMBERS: int(200, 0, 1_000_000),
  /** Sends are refused with `overloaded` when an ingest stream holds more entries than this. */
  INGEST_MAX_BACKLOG: int(200_000, 100, 100_000_000),
  /**
   * Read receipts ("seen by") in DMs, groups and rooms with at most this many members: every
   * `read` of a member is a frame to every member, O(members²) in a busy room. Off above (0: DMs
   * and groups only).
   */
  RECEIPTS_MAX_MEMBERS: int(20, 0, 10_000),
  /** `@room` (@here, @everyone) works in rooms with at most this many members, for owners and admins (any member of a group). */
  ROOM_MENTION_MAX_MEMBERS: int(50, 0, 100_000),

  // --- ingestion workers ---
  INGEST_BATCH_SIZE: int(500, 1, 10_000),
  INGEST_BATCH_MS: int(100, 1, 60_000),
  INGEST_CLAIM_IDLE_MS: int(30_000, 100, 3_600_000),
  INGEST_MAX_DELIVERIES: int(5, 1, 1000),
  INGEST_TRIM_INTERVAL_MS: int(1000, 50, 600_000),
  INGEST_CONSUMER: z.string().min(1).max(128).optional(),
  /**
   * The ingestion service also runs the `notify` consumer group (services/notify/): mentions,
   * DMs, replies and invites into each user's inbox. Off: run it elsewhere (or nowhere).
   */
  NOTIFY_ENABLED: bool(true),
  /**
   * Entries the trimmer keeps for the notify group when it falls behind storage: past this many
   * its oldest unread entries are trimmed (those notifications are lost, counted in
   * aurora_notify_entries_skipped_total) — a stalled notifier must never fill Redis and refuse sends.
   */
  NOTIFY_MAX_LAG: int(50_000, 100, 100_000_000),

  // --- files (issue 16; users service stores uploads; DESIGN.md "Files") ---
  /** Largest upload, bytes (413 past it, counted while streaming: nothing bigger is ever held). */
  ATTACHMENT_MAX_BYTES: int(25 * 1024 * 1024, 1024, 5 * 1024 * 1024 * 1024),
  /** Bytes one user may keep stored (uploads not yet collected); 429 past it. */
  ATTACHMENT_QUOTA_BYTES: int(1024 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
  /** Uploads one user may start per minute; 429 past it. */
  ATTACHMENT_UPLOADS_PER_MIN: int(30, 1, 100_000),
  /** Types (sniffed from the bytes) an upload may have; anything else is refused with 415. */
  ATTACHMENT_TYPES: list(
    'image/png,image/jpeg,image/webp,image/gif,application/pdf,text/plain,application/zip,audio/mpeg,audio/ogg,video/mp4,video/webm',
  ),
  /** An upload no message names after this long is deleted (and a deleted message's files). */
  ATTACHMENT_ORPHAN_TTL_SEC: int(24 * 3600, 60, 365 * 86_400),
  /** Lifetime of a signed download link (GET …/attachments/:id/link). */
  ATTACHMENT_LINK_TTL_SEC: int(300, 10, 86_400),
  /** Where uploads are kept: `disk` (under FILES_DIR) or `s3` (S3_* below). */
  FILE_STORAGE: z.enum(['disk', 's3']).default('disk'),
  FILES_DIR: z.string().min(1).default('.data/files'),
  /** Any S3-compatible endpoint (AWS, MinIO, R2...); unset: AWS's for S3_REGION. */
  S3_ENDPOINT: z.string().url().optional(),
  S3_BUCKET: z.string().min(3).max(63).optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Path-style URLs (bucket in the path): MinIO and most self-hosted S3 need it. */
  S3_FORCE_PATH_STYLE: bool(false),

  // --- accounts ---
  /**
   * DELETE /api/me also removes the account's messages (tombstoned like a deleted message, their
   * files collected) instead of keeping them shown as from a deleted user (users/account-purge.ts).
   */
  DELETE_MESSAGES_WITH_ACCOUNT: bool(false),

  // --- assistant (issue 17; services/assistant/; DESIGN.md "Assistant") ---
  /**
   * The ingestion service also runs the `assistant` consumer group (the user `assistant`, who
   * answers @assistant and DMs). Off: run it as its own service (`npm run start:assistant`, the
   * k8s Deployment `assistant`) or not at all.
   */
  ASSISTANT_ENABLED: bool(true),
  /** `offline`: deterministic, no network (help, summaries, search, time); `openai`: ASSISTANT_BASE_URL. */
  ASSISTANT_PROVIDER: z.enum(['offline', 'openai']).default('offline'),
  /** Any OpenAI-compatible Chat Completions endpoint (OpenAI, Groq, Ollama, vLLM, llama.cpp). */
  ASSISTANT_BASE_URL: z.string().url().default('https://api.openai.com/v1'),
  /** Never logged, never in an error or a metric (may be unset for a local server). */
  ASSISTANT_API_KEY: z.string().optional(),
  ASSISTANT_MODEL: z.string().min(1).default('gpt-4o-mini'),
  /** Until the provider's response headers arrive, and the whole answer at most ten times this. */
  ASSISTANT_TIMEOUT_MS: int(30_000, 100, 600_000),
  /** Longest silence between two streamed chunks (a stalled provider becomes an error line). */
  ASSISTANT_IDLE_TIMEOUT_MS: int(20_000, 100, 600_000),
  ASSISTANT_MAX_TOOL_ROUNDS: int(3, 0, 10),
  /** Tokens per completion (each tool round is one). */
  ASSISTANT_MAX_TOKENS: int(800, 16, 32_000),
  /** Recent messages of the room (or thread) the assistant sees. */
  ASSISTANT_CONTEXT_MESSAGES: int(30, 1, 200),
  /** Answers in progress at once per assistant process (more wait in the stream). */
  ASSISTANT_CONCURRENCY: int(8, 1, 1000),
  /** Least time between two live `delta` frames of one answer (100: at most 10 per second). */
  ASSISTANT_DELTA_INTERVAL_MS: int(100, 10, 10_000),
  /** Questions one user may ask per ASSISTANT_USER_WINDOW_SEC. */
  ASSISTANT_USER_REQUESTS: int(20, 1, 1_000_000),
  ASSISTANT_USER_WINDOW_SEC: int(600, 1, 86_400),
  /** Tokens (prompt + completion) one user's questions may use per UTC day. */
  ASSISTANT_USER_TOKENS_PER_DAY: int(50_000, 1, Number.MAX_SAFE_INTEGER),
});

export type Env = z.output<typeof envSchema>;
/** Every variable the services understand (deploy manifests are checked against this list). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape) as (keyof Env)[];

export type Config = Readonly<
  Omit<Env, 'HOST'> & {
    /** Always set: the HOST variable or its per-NODE_ENV default. */
    HOST: string;
    service: ServiceName;
    port: number;
    /** Where /metrics and /readyz are served: ADMIN_PORT, or port + ADMIN_PORT_OFFSET. */
    adminPort: number;
    replicaId: string;
    isProduction: boolean;
    prettyLogs: boolean;
    store: 'sqlite' | 'mongo';
  }
>;

export class ConfigError extends Error {}

/** A listen address only this machine can reach: 127.0.0.0/8, ::1 (also v4-mapped) or `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return /^(?:::ffff:)?127(?:\.\d{1,3}){3}$/.test(h);
}

/** Parses `env` for one service. Throws ConfigError with a one-line message on a bad value. */
export function loadConfig(service: ServiceName, env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset" (compose files and k8s often pass VAR= for optional ones).
  const raw = Object.fromEntries(
    CONFIG_VARIABLES.map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'config');
    throw new ConfigError(`invalid ${name}=${JSON.stringify(env[name] ?? '')}: ${issue.message}`);
  }
  const e = parsed.data;
  const isProduction = e.NODE_ENV === 'production';
  // Only the services that sign (users) or verify (chat) tokens need the secret; ingestion
  // workers and the operator scripts that load the ingestion config never touch it.
  const usesJwt = service === 'users' || service === 'chat';
  if (isProduction && usesJwt && (e.JWT_SECRET === DEV_JWT_SECRET || e.JWT_SECRET.length < 32)) {
    throw new ConfigError(
      'invalid JWT_SECRET: production needs a random secret of at least 32 characters (not the development default)',
    );
  }
  const host = e.HOST ?? (isProduction ? '0.0.0.0' : '127.0.0.1');
  // The development secret is in this repository: anyone who can reach a service using it can
  // sign themselves in as anyone. Reachable from other machines, that is allowed only when the
  // environment SAYS it is development or test (not when NODE_ENV was merely left unset).
  const saysDevOrTest = env.NODE_ENV === 'development' || env.NODE_ENV === 'test';
  if (usesJwt && e.JWT_SECRET === DEV_JWT_SECRET && !isLoopbackHost(host) && !saysDevOrTest) {
    throw new ConfigError(
      `invalid HOST=${JSON.stringify(host)}: the development JWT_SECRET is public; set JWT_SECRET, listen on a loopback address, or set NODE_ENV=development explicitly`,
    );
  }
  // A chat replica's subscriber recovery proves it missed nothing only with a log longer than
  // RECOVERY_MAX (services/chat/fanout.ts); shorter, messages could be lost silently.
  // A reply as big as the send buffer bound would close its own socket with 4008 (connection.ts).
  if (service === 'chat' && e.REPLY_MAX_BYTES >= e.MAX_BUFFERED_BYTES) {
    throw new ConfigError(`invalid REPLY_MAX_BYTES=${e.REPLY_MAX_BYTES}: must be less than MAX_BUFFERED_BYTES (${e.MAX_BUFFERED_BYTES})`);
  }
  if (service === 'chat' && e.ROOM_LOG_MAXLEN <= e.RECOVERY_MAX) {
    throw new ConfigError(`invalid ROOM_LOG_MAXLEN=${e.ROOM_LOG_MAXLEN}: must be greater than RECOVERY_MAX (${e.RECOVERY_MAX})`);
  }
  const port = e.PORT ?? DEFAULT_PORT[service];
  const adminPort = e.ADMIN_PORT ?? (port === 0 ? 0 : port + ADMIN_PORT_OFFSET);
  if (adminPort > 65535) {
    throw new ConfigError(`invalid ADMIN_PORT="": its default, PORT + ${ADMIN_PORT_OFFSET} (${adminPort}), is past 65535; set it`);
  }
  // Sharing the main port would put /metrics and /readyz behind the Ingress again.
  if (adminPort !== 0 && adminPort === port) {
    throw new ConfigError(`invalid ADMIN_PORT=${JSON.stringify(String(adminPort))}: must differ from PORT`);
  }
  if (service === 'users' && e.FILE_STORAGE === 's3' && e.S3_BUCKET === undefined) {
    throw new ConfigError('invalid S3_BUCKET="": FILE_STORAGE=s3 needs a bucket');
  }
  return Object.freeze({
    ...e,
    ALLOWED_ORIGINS: Object.freeze([...e.ALLOWED_ORIGINS]) as unknown as string[],
    ATTACHMENT_TYPES: Object.freeze([...e.ATTACHMENT_TYPES]) as unknown as string[],
    HOST: host,
    service,
    port,
    adminPort,
    replicaId: e.REPLICA_ID ?? `${service}-${hostname()}-${process.pid}`,
    isProduction,
    prettyLogs: e.LOG_PRETTY === 'auto' ? !isProduction && e.NODE_ENV !== 'test' : e.LOG_PRETTY === 'true',
    store: e.MONGO_URL ? 'mongo' : 'sqlite',
  });
}

/** loadConfig for a service's main(): a bad value prints one line and exits non-zero. */
export function loadConfigOrExit(service: ServiceName): Config {
  try {
    return loadConfig(service);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`[${service}] configuration error: ${err.message}\n`);
    process.exit(1);
  }
}
