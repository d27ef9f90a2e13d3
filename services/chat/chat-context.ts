// What every Connection of a replica shares (server.ts builds one): configuration, Redis and
// its scripts, fan-out, presence, the per-user channels and the connection metrics.
import type { Redis } from 'ioredis';
import type { Counter } from 'prom-client';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { MemberScript } from '../shared/member-script.js';
import type { AutoMute } from './auto-mute.js';
import type { EventScript } from './event-script.js';
import type { Fanout } from './fanout.js';
import type { Presence } from './presence.js';
import type { ReadScript } from './read-script.js';
import type { SendScript } from './send-script.js';
import type { TypingScript } from './typing.js';
import type { UserChannels } from './user-channels.js';
import type { UserStatusTracker } from './user-status.js';
import type { WritePolicy } from './wire.js';

export interface ConnectionMetrics {
  framesIn: Counter;
  framesOut: Counter;
  rateLimited: Counter;
  slowConsumerCloses: Counter;
  errors: Counter;
}

export interface ChatContext {
  config: Config;
  log: Logger;
  keys: Keys;
  redis: Redis;
  fanout: Fanout;
  presence: Presence;
  send: SendScript;
  /** Edits, deletes and reactions (event-script.ts). */
  event: EventScript;
  typing: TypingScript;
  /** `read` frames: read positions (read-script.ts). */
  read: ReadScript;
  /** Membership checks and the join of a public room (shared/member-script.ts). */
  member: MemberScript;
  /** Mutes a member who keeps sending past the room's rate limit (auto-mute.ts). */
  autoMute: AutoMute;
  /** The per-user channel (user-channels.ts). */
  userChannels: UserChannels;
  /** Online / away / last seen of the users with a socket here (user-status.ts). */
  status: UserStatusTracker;
  /** Revoked on this replica's revocation channel within the last minute (revocations.ts). */
  recentlyRevoked: (sid: string | undefined) => boolean;
  metrics: ConnectionMetrics;
  /** How sockets batch their writes (WRITE_DELAY_MS, WRITE_MAX_BYTES). */
  writePolicy: WritePolicy;
}

