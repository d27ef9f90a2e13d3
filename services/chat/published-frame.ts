// What a replica reads from a frame published on a room channel: the few fields fan-out acts on,
// found without parsing the text of the common frames (message, event) — the replica forwards
// the published bytes verbatim, so parsing them whole per frame would be wasted work.
import { isMessageId } from '../shared/ids.js';

/** The fields of a published frame the replica looks at (it forwards the bytes verbatim). */
export interface PublishedFrame {
  type: string;
  id?: string;
  ts?: number;
  user?: { id?: string };
  /** Set on every frame but `message`/`event` frames of the fast path (below). */
  room?: string;
  /** Membership events (parsed in full: they are rare and a replica acts on them). */
  kind?: string;
  action?: string;
  member?: { id?: string };
}

/** The room log id a frame carries: messages and events have one (presence and typing do not). */
export function logIdOf(frame: PublishedFrame): string | undefined {
  return (frame.type === 'message' || frame.type === 'event') && isMessageId(frame.id) ? frame.id : undefined;
}

const MESSAGE_HEAD = '{"type":"message",';
const EVENT_HEAD = '{"type":"event",';
const MEMBER_EVENT_HEAD = '{"type":"event","kind":"member",';
const FRAME_TAIL = /^,"ts":(\d{1,16})}$/;

/**
 * The fields fan-out needs from a published frame. `message` and `event` frames are made by the
 * scripts as a head + `"id":"<id>","ts":<ts>}` (frames.ts), so their id and ts are read from the
 * end without parsing the text (they are last, and a `"` inside the text is always escaped);
 * anything else (typing, presence, or an unexpected shape) is JSON-parsed. Throws on a frame
 * without a type.
 */
export function publishedFrameOf(payload: string): PublishedFrame {
  const type = payload.startsWith(MESSAGE_HEAD)
    ? 'message'
    : payload.startsWith(EVENT_HEAD) && !payload.startsWith(MEMBER_EVENT_HEAD)
      ? 'event'
      : null;
  if (type !== null) {
    const at = payload.lastIndexOf('"id":"');
    const end = at < 0 ? -1 : payload.indexOf('"', at + 6);
    const id = end < 0 ? '' : payload.slice(at + 6, end);
    const tail = end < 0 ? null : FRAME_TAIL.exec(payload.slice(end + 1));
    if (tail && isMessageId(id)) return { type, id, ts: Number(tail[1]) };
  }
  const frame = JSON.parse(payload) as PublishedFrame;
  if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') throw new Error('no type');
  return frame;
}
