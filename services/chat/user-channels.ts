// The per-user channel (DESIGN.md "Per-user channel"): what concerns one person wherever they
// are connected — an invitation, a kick, a new DM's first message, their own membership changes
// from another device. A replica subscribes `aurora:user:<id>` while that user has a socket on
// it (reference counted like rooms, so a user who is not connected costs no Redis egress) and
// hands each frame to the user's sockets that have NOT joined the frame's room: a joined socket
// gets the same frame on the room channel (member.lua and send.lua publish both).
//
// After a subscriber reconnect whatever was published meanwhile is lost (there is no per-user
// log to resume from): every socket of a subscribed user gets `{"type":"resync"}`, and the client
// re-reads GET /api/me/rooms — the store's copy of the same state.
//
// On Redis Cluster user channels stay classic pub/sub: member.lua and send.lua publish them from
// the room's slot, which SPUBLISH would not allow (its channel must share the script's slot).
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { Fanout } from './fanout.js';
import { publishedFrameOf, type PublishedFrame } from './published-frame.js';
import { resyncFrame } from './frames.js';
import { textFrame } from './wire.js';

export interface UserChannelMember {
  readonly user: { id: string };
  /** A frame of the user's channel: `data` is the WebSocket frame, shared by the user's sockets. */
  receiveUserFrame(data: Buffer, frame: PublishedFrame): void;
}

interface UserSub {
  members: Set<UserChannelMember>;
  subscribed: boolean;
  /** Subscribe/unsubscribe of one user run one after another, each re-checking the count. */
  op: Promise<void>;
}

export class UserChannels {
  private readonly users = new Map<string, UserSub>();

  constructor(
    private readonly fanout: Fanout,
    private readonly keys: Keys,
    private readonly log: Logger,
  ) {}

  /** Adds a socket of its user; resolves once the user's channel is subscribed. */
  add(member: UserChannelMember): Promise<void> {
    const uid = member.user.id;
    let u = this.users.get(uid);
    if (!u) {
      u = { members: new Set(), subscribed: false, op: Promise.resolve() };
      this.users.set(uid, u);
    }
    u.members.add(member);
    const state = u;
    const result = (state.op = state.op.then(async () => {
      if (state.members.size > 0 && !state.subscribed) {
        state.subscribed = true;
        await this.fanout.subscribeControl(this.keys.userChannel(uid), {
          onMessage: (payload) => this.deliver(state, payload),
          onResubscribed: () => this.resync(state),
        });
      }
    }));
    state.op = state.op.catch((err: Error) => this.log.warn({ err: err.message, user: uid }, 'user channel subscribe failed'));
    return result;
  }

  remove(member: UserChannelMember): void {
    const uid = member.user.id;
    const state = this.users.get(uid);
    if (!state || !state.members.delete(member) || state.members.size > 0) return;
    state.op = state.op
      .then(async () => {
        if (state.members.size > 0 || !state.subscribed) return;
        state.subscribed = false;
        await this.fanout.unsubscribeControl(this.keys.userChannel(uid));
      })
      .catch((err: Error) => this.log.warn({ err: err.message, user: uid }, 'user channel unsubscribe failed'))
      .finally(() => {
        if (state.members.size === 0 && this.users.get(uid) === state) this.users.delete(uid);
      });
  }

  /** Users with a subscribed channel on this replica (tests, metrics). */
  subscribedCount(): number {
    let n = 0;
    for (const u of this.users.values()) if (u.subscribed) n++;
    return n;
  }

  private deliver(state: UserSub, payload: string): void {
    let frame: PublishedFrame;
    try {
      frame = JSON.parse(payload) as PublishedFrame;
      if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') throw new Error('no type');
      // The same parse as the room path for what it reads (ids), plus the room it names.
      frame = { ...publishedFrameOf(payload), room: frame.room, kind: frame.kind, action: frame.action, member: frame.member };
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'dropping unparseable user channel frame');
      return;
    }
    const data = textFrame(Buffer.from(payload, 'utf8'));
    for (const m of state.members) {
      try {
        m.receiveUserFrame(data, frame);
      } catch (err) {
        this.log.error({ err }, 'user channel delivery failed');
      }
    }
  }

  private resync(state: UserSub): void {
    const data = textFrame(Buffer.from(resyncFrame(), 'utf8'));
    for (const m of state.members) m.receiveUserFrame(data, { type: 'resync' });
  }
}
