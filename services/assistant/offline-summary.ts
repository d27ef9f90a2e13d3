// The offline provider's summary (offline-provider.ts): built from the messages it was given —
// who spoke and how much, the words that came back across messages, and the last few points —
// so it changes with the conversation and is the same for the same conversation.
import { excerpt } from './text.js';

export interface ContextMessage {
  author: string;
  text: string;
}

/** How many topics and "last points" a summary shows. */
export const SUMMARY_TOPICS = 5;
export const SUMMARY_LAST_POINTS = 3;

// Words that say nothing about a topic (English; other languages simply keep theirs).
const STOPWORDS = new Set(
  ('the and for are but not you all any can had her was one our out has him his how its may new now old see two who ' +
    'did get got let put say she too use that with have this will your from they know want been good much some time ' +
    'very when come here just like long make many more only over such take than them well were what then there these ' +
    'those would could should about after again also because before being between both does doing down during each ' +
    'into itself most myself other same their theirs themselves through under until while which where whom why yes ' +
    'yeah okay lol think going gonna really still thing things maybe sure please thanks thank today tomorrow ' +
    'assistant summarise summarize summary').split(' '),
);

export function summarise(messages: ContextMessage[]): string {
  if (messages.length === 0) return 'There is nothing to summarise yet: I see no recent messages here.';
  const people = new Map<string, number>();
  for (const m of messages) people.set(m.author, (people.get(m.author) ?? 0) + 1);
  const speakers = [...people.entries()].sort((a, b) => b[1] - a[1]); // stable: first speaker first on ties
  const n = messages.length;
  const lines = [
    `Summary of the last ${n} message${n === 1 ? '' : 's'} (${people.size} ${people.size === 1 ? 'person' : 'people'}):`,
    `- Who spoke: ${speakers.map(([name, count]) => `${name} (${count})`).join(', ')}.`,
  ];
  const topics = topicsOf(messages, new Set([...people.keys()].map((p) => p.toLowerCase())));
  if (topics.length) lines.push(`- Topics: ${topics.join(', ')}.`);
  lines.push('- Last points:');
  for (const m of messages.slice(-SUMMARY_LAST_POINTS)) lines.push(`  - ${m.author}: ${excerpt(m.text, 100) || '(no text)'}`);
  return lines.join('\n');
}

/**
 * The significant words that came back in the most messages (then the most often, then
 * alphabetically, so the order is stable). A word seen in one message only counts when no word
 * came back at all.
 */
function topicsOf(messages: ContextMessage[], names: Set<string>): string[] {
  const inMessages = new Map<string, number>();
  const total = new Map<string, number>();
  for (const m of messages) {
    const words = (m.text.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu) ?? [])
      .map((w) => w.replace(/['’-]+$/, ''))
      .filter((w) => w.length >= 3 && !/^\p{N}+$/u.test(w) && !STOPWORDS.has(w) && !names.has(w));
    for (const w of words) total.set(w, (total.get(w) ?? 0) + 1);
    for (const w of new Set(words)) inMessages.set(w, (inMessages.get(w) ?? 0) + 1);
  }
  const ranked = [...inMessages.keys()].sort(
    (a, b) => inMessages.get(b)! - inMessages.get(a)! || total.get(b)! - total.get(a)! || (a < b ? -1 : a > b ? 1 : 0),
  );
  const recurring = ranked.filter((w) => inMessages.get(w)! >= 2);
  return (recurring.length ? recurring : ranked.slice(0, 3)).slice(0, SUMMARY_TOPICS);
}
