// Which ingest entries the assistant answers: a message (not an edit, reaction or read mark) from
// someone else that mentions @assistant, or any message in a DM with the assistant. A question
// asked in a thread is answered in that thread. A question older than STALE_MS (the group was
// created on an old stream, or the assistant was down for long) is left unanswered: an answer
// that late would land out of the conversation.
import { isChatMessage, isReadMark, type ChatUser, type LogEntry, type ReadMark } from '../shared/message.js';
import { dmMembers } from '../shared/rooms.js';
import { ASSISTANT_USERNAME } from './identity.js';

export const STALE_MS = 10 * 60_000;

export interface Trigger {
  room: string;
  /** The question's message id. */
  id: string;
  asker: ChatUser;
  text: string;
  ts: number;
  /** Answer in this thread (the question's own thread). */
  replyTo?: string;
  /** A DM with the assistant: only the asker reads the answer. */
  private: boolean;
}

// @assistant as a word of its own, not inside an e-mail address or a longer name (mentions.ts).
const MENTION_RE = new RegExp(`(?:^|[^\\w@.+-])@${ASSISTANT_USERNAME}(?![\\w-]|\\.[\\w])`, 'i');

export const mentionsAssistant = (text: string) => MENTION_RE.test(text);

export function triggerOf(entry: LogEntry | ReadMark, assistantId: string, now = Date.now()): Trigger | null {
  if (isReadMark(entry) || !isChatMessage(entry)) return null;
  const m = entry;
  if (m.user.id === assistantId) return null;
  const dm = dmMembers(m.room);
  const isDm = dm !== null && (dm[0] === assistantId || dm[1] === assistantId);
  if (!isDm && !mentionsAssistant(m.text)) return null;
  if (now - m.ts > STALE_MS) return null;
  return {
    room: m.room,
    id: m.id,
    asker: m.user,
    text: m.text,
    ts: m.ts,
    ...(m.replyTo !== undefined && { replyTo: m.replyTo }),
    private: isDm,
  };
}
