// The `read` frame (PROTOCOL.md `read`): the user saw a room up to a top-level message. One
// script call (read-script.ts); nothing is acked — the position is a hint that only moves
// forward, and the user's devices hear the result on their user channel (`read` frames).
// Errors are answered: an id that is no message of the room, a room not joined, overload.
import type { ChatUser } from '../shared/message.js';
import type { ChatContext } from './chat-context.js';
import { errorFrame } from './frames.js';

/** The error frame to answer, or null when there is nothing to say (moved, or already there). */
export async function markRead(ctx: Pick<ChatContext, 'read' | 'log'>, user: ChatUser, room: string, id: string): Promise<string | null> {
  let r;
  try {
    r = await ctx.read(room, user, id);
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message, room }, 'read failed');
    return errorFrame('internal', 'read position not saved, retry', undefined, undefined, undefined, room);
  }
  switch (r.kind) {
    case 'ok':
    case 'unchanged':
      return null;
    case 'not_found':
      return errorFrame('not_found', `no message ${id} in ${room}`, undefined, undefined, undefined, room);
    case 'not_top_level':
      return errorFrame('bad_request', 'read positions are top-level messages (threads are not counted)', undefined, undefined, undefined, room);
    case 'overloaded':
      return errorFrame('overloaded', 'server busy, retry later', undefined, 1000, undefined, room);
  }
}
