// Small text helpers shared by the assistant's modules.

/** At most `max` UTF-16 units on one line, never cutting a surrogate pair, with an ellipsis when cut. */
export function excerpt(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  let cut = flat.slice(0, max);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Like excerpt, but keeps line breaks (a tool result, a message's text). */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Whitespace-separated pieces: the offline provider's "tokens". */
export const countWords = (text: string) => (text.match(/\S+/g) ?? []).length;
