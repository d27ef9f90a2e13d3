// Hold live frames while the room log is read, then merge by id — the one implementation used by
// a socket's join (connection.ts: subscribe, hold, read the backlog, release) and by a replica's
// subscriber recovery (fanout.ts: re-subscribe, hold, read what was missed, release).
//
// Every room log entry — message or event — has an id, and a room's frames arrive from pub/sub in
// id order. While holding, live frames wait. `release(cutoff)` hands back the held frames the log
// read did not already deliver (id > cutoff; frames without an id — presence, typing — always
// pass) and keeps a cutoff for frames still in flight on the subscriber connection: PUBLISHed
// before the read, delivered after the release. The first newer frame clears it, so later
// deliveries skip the comparison.
import { compareIds } from '../shared/ids.js';

export interface GatedFrame<T> {
  data: Buffer;
  /** The room log id of a message or event frame; undefined for presence/typing. */
  id: string | undefined;
  meta: T;
}

export class LiveGate<T = undefined> {
  private held: GatedFrame<T>[] | null = null;
  private cutoff: string | undefined;

  get holding(): boolean {
    return this.held !== null;
  }

  get heldCount(): number {
    return this.held?.length ?? 0;
  }

  /** From now on live frames wait (idempotent: a second hold keeps what is held). */
  hold(): void {
    this.held ??= [];
  }

  /**
   * The live path: true when the frame is to be delivered now; false when it was held, or it is
   * at or before the cutoff (the log read delivered it already).
   */
  admit(frame: GatedFrame<T>): boolean {
    if (this.held) {
      this.held.push(frame);
      return false;
    }
    if (this.cutoff !== undefined && frame.id !== undefined) {
      if (compareIds(frame.id, this.cutoff) <= 0) return false;
      this.cutoff = undefined;
    }
    return true;
  }

  /**
   * Stops holding. `cutoff`: the last id the log read delivered (undefined: it delivered nothing
   * that can overlap, every held frame passes). Returns the held frames to deliver, in order.
   */
  release(cutoff: string | undefined): GatedFrame<T>[] {
    const held = this.held ?? [];
    this.held = null;
    const pass = cutoff === undefined ? held : held.filter((f) => f.id === undefined || compareIds(f.id, cutoff) > 0);
    this.cutoff = pass.findLast((f) => f.id !== undefined)?.id ?? cutoff;
    return pass;
  }

  /** Stops holding and forgets what was held (the members resync instead). */
  drop(): void {
    this.held = null;
    this.cutoff = undefined;
  }
}
