// What the assistant sees of the conversation: the room's recent messages from its Redis room log
// (current to the message just sent, before any worker stored it), in their current state (edits
// and deletes in the log applied), at most ASSISTANT_CONTEXT_MESSAGES — a thread's messages only
// when the question was asked in one. Its own earlier answers are `assistant` turns, everyone
// else's `user` turns "name: text", the question last.
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import { isChatMessage, isRoomEvent, logEntryOf, MAX_TEXT_CHARS, type ChatMessage } from '../shared/message.js';
import type { Turn } from './provider.js';
import type { Trigger } from './triggers.js';
import { PLACEHOLDER_TEXT } from './writer.js';

/** Log entries read per context message wanted: reactions and edits share the log. */
const READ_FACTOR = 4;

export function systemPrompt(trigger: Trigger, assistantName: string): string {
  const where = trigger.private ? 'a direct conversation with one user' : `the chat room "${trigger.room}"`;
  return [
    `You are ${assistantName}, the AI assistant of AuroraChat, answering in ${where}.`,
    `${trigger.asker.name} asked you the last message. Be brief and helpful; use plain text (light Markdown is fine).`,
    'Use the tools when they help: search_messages searches the messages this user may read, time tells the time.',
  ].join(' ');
}

export async function conversationTurns(
  redis: Redis,
  keys: Pick<Keys, 'roomLog'>,
  trigger: Trigger,
  assistant: { id: string; name: string },
  limit: number,
): Promise<Turn[]> {
  const raw = (await redis.xrevrange(keys.roomLog(trigger.room), '+', '-', 'COUNT', limit * READ_FACTOR)) as [string, string[]][];
  const edits = new Map<string, string>();
  const deleted = new Set<string>();
  const messages: ChatMessage[] = [];
  // newest first: the newest edit of a message is met before older ones
  for (const [id, fields] of raw) {
    const { entry } = logEntryOf(trigger.room, id, fields);
    if (isRoomEvent(entry)) {
      if (entry.kind === 'edit' && !edits.has(entry.target)) edits.set(entry.target, entry.text);
      else if (entry.kind === 'delete') deleted.add(entry.target);
    } else if (isChatMessage(entry) && entry.id !== trigger.id && !deleted.has(entry.id)) {
      const inScope = trigger.replyTo === undefined ? entry.replyTo === undefined : entry.id === trigger.replyTo || entry.replyTo === trigger.replyTo;
      if (inScope && messages.length < limit) messages.push(entry);
    }
  }
  const turns: Turn[] = [{ role: 'system', content: systemPrompt(trigger, assistant.name) }];
  for (const m of messages.reverse()) {
    const text = edits.get(m.id) ?? m.text;
    // an answer still in progress (or one that never finished) says nothing yet
    if (text.trim() === '' || (m.user.id === assistant.id && text === PLACEHOLDER_TEXT)) continue;
    turns.push(m.user.id === assistant.id ? { role: 'assistant', content: text } : { role: 'user', content: `${m.user.name}: ${text}` });
  }
  turns.push({ role: 'user', content: `${trigger.asker.name}: ${trigger.text.slice(0, MAX_TEXT_CHARS)}` });
  return turns;
}
