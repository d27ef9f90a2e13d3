// The per-socket cost bounds a Connection charges before it does any work (connection.ts):
// every frame against MAX_FRAMES_PER_SEC, malformed frames as strikes (1008 after too many), and
// join/leave churn (each costs a presence broadcast and a join also a log read and an ACL check).
// Pure bookkeeping on one socket's clock: no I/O, so the rules read in one place.

/** Malformed frames tolerated within ABUSE_WINDOW_MS before the socket is closed with 1008. */
export const ABUSE_MAX_STRIKES = 10;
export const ABUSE_WINDOW_MS = 10_000;
/**
 * Join/leave churn budget: at most JOIN_LEAVE_MAX charged join/leave frames per
 * JOIN_LEAVE_WINDOW_MS. Charged: every leave of a joined room, every join of a room this socket
 * joined before (re-join after a leave, or a join of a room it is in, answered cheaply). A first
 * join of a room is free — a reconnecting client joins all its rooms at once — but is refused too
 * while the budget is spent, so cycling through new rooms is bounded as well. Leaves are never
 * refused, only charged.
 */
export const JOIN_LEAVE_MAX = 10;
export const JOIN_LEAVE_WINDOW_MS = 10_000;
/** Rooms remembered per socket to tell first joins from re-joins; past this every join is charged. */
const EVER_JOINED_CAP = 1000;

export class SocketBudget {
  private strikes: number[] = [];
  /**
   * The frame budget, a token bucket: MAX_FRAMES_PER_SEC tokens, refilled at that rate. A fixed
   * one-second window started at a window's first frame punished a client sending well under the
   * rate in bursts: a burst read late (the event loop busy for 20 ms) and the next one read on
   * time fell into one window, and its frames became strikes (1008).
   */
  private tokens = Number.NaN;
  private tokensAt = 0;
  private joinLeave: number[] = [];
  private readonly everJoined = new Set<string>();

  constructor(private readonly maxFramesPerSec: number) {}

  /** Charges one frame; over budget, how long until one more would be allowed. */
  chargeFrame(now: number): { overBudget: boolean; retryAfterMs: number } {
    const max = this.maxFramesPerSec;
    this.tokens = Number.isNaN(this.tokens) ? max : Math.min(max, this.tokens + ((now - this.tokensAt) * max) / 1000);
    this.tokensAt = now;
    const overBudget = this.tokens < 1;
    if (!overBudget) this.tokens -= 1;
    return { overBudget, retryAfterMs: Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / max)) };
  }

  /** Records a strike; true when the socket has earned its 1008. */
  strike(now: number): boolean {
    this.strikes.push(now);
    while (this.strikes.length > 0 && this.strikes[0]! < now - ABUSE_WINDOW_MS) this.strikes.shift();
    return this.strikes.length >= ABUSE_MAX_STRIKES;
  }

  get strikeCount(): number {
    return this.strikes.length;
  }

  /** Charges one join/leave to its budget. */
  chargeJoinLeave(now: number): void {
    this.joinLeave.push(now);
  }

  /** 0 while the join/leave budget has room, else the ms until it has. */
  joinRetryMs(now: number): number {
    while (this.joinLeave.length > 0 && this.joinLeave[0]! <= now - JOIN_LEAVE_WINDOW_MS) this.joinLeave.shift();
    return this.joinLeave.length < JOIN_LEAVE_MAX ? 0 : this.joinLeave[0]! + JOIN_LEAVE_WINDOW_MS - now;
  }

  /** Charges a join unless it is the socket's first of this room (see JOIN_LEAVE_MAX). */
  chargeJoin(room: string, now: number): void {
    if (this.everJoined.has(room) || this.everJoined.size >= EVER_JOINED_CAP) this.chargeJoinLeave(now);
    else this.everJoined.add(room);
  }
}
