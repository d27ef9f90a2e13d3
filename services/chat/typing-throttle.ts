// One socket's typing indicator in one room: coalesced before it costs a Redis call. A typing
// frame is a hint, and every forwarded one fans out to all members, so:
// - within TYPING_FORWARD_INTERVAL_MS of the last forwarded frame only the latest flag is kept,
//   and sent when the interval ends if it differs (alternating true/false cannot bypass it);
// - the same flag again within TYPING_MIN_INTERVAL_MS is dropped silently.
// On top of this per-socket coalescing, typing.ts throttles per USER per room over all sockets
// (Redis) and drops typing in big rooms; when another socket of the user holds that window, the
// latest flag is retried when it ends.
import type { TypingResult } from './typing.js';

/** A typing frame with the same `active` as the last forwarded one is dropped within this. */
export const TYPING_MIN_INTERVAL_MS = 2_000;
/** At most one typing frame per room is forwarded within this, whatever the flag. */
export const TYPING_FORWARD_INTERVAL_MS = 1_000;

export interface RoomTypingDeps {
  /** Publishes through typing.ts (a Redis call, with the connection's timeout). */
  publish: (active: boolean) => Promise<TypingResult>;
  /** Runs `job` behind the socket's queued frames (their order is kept). */
  enqueue: (job: () => Promise<void>) => void;
  /** False once the socket closed or left the room: nothing more is sent. */
  alive: () => boolean;
}

export class RoomTyping {
  /** The last frame forwarded. */
  private last: { active: boolean; at: number } | undefined;
  /** The latest flag received within the interval; sent at its end if it changed. */
  private pending: boolean | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RoomTypingDeps) {}

  /** A typing frame from the client. */
  async offer(active: boolean): Promise<void> {
    const now = Date.now();
    if (this.timer) {
      // A trailing update is already scheduled (this socket's interval, or the user's window
      // held by another socket): it will carry this latest flag.
      this.pending = active;
      return;
    }
    if (this.last && now - this.last.at < TYPING_FORWARD_INTERVAL_MS) {
      this.pending = active;
      this.schedule(this.last.at + TYPING_FORWARD_INTERVAL_MS - now);
      return;
    }
    // Past the interval: this frame is the latest state, a pending one is stale.
    this.pending = undefined;
    if (this.last && this.last.active === active && now - this.last.at < TYPING_MIN_INTERVAL_MS) return;
    await this.send(active);
  }

  /** The socket left the room or closed. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async send(active: boolean): Promise<void> {
    const result = await this.deps.publish(active);
    switch (result.kind) {
      case 'published':
      case 'big_room':
        // big_room reaches nobody; remembered as sent so this socket asks Redis at most once an interval.
        this.last = { active, at: Date.now() };
        return;
      case 'throttled':
        if (!this.deps.alive()) return;
        this.pending = active;
        this.schedule(result.retryInMs);
        return;
    }
  }

  private schedule(ms: number): void {
    this.timer ??= setTimeout(() => this.windowEnded(), ms);
  }

  private windowEnded(): void {
    this.timer = undefined;
    this.deps.enqueue(async () => {
      const pending = this.pending;
      this.pending = undefined;
      if (!this.deps.alive() || pending === undefined || pending === this.last?.active) return;
      await this.send(pending);
    });
  }
}
