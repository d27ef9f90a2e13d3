// Message text → a small tree of formatting nodes. Pure (no DOM), so Node tests and fuzzes it;
// ui/rich-text-dom.js turns the tree into elements. The tree is the whole vocabulary of message
// formatting: whatever a message says, the parser can only yield the node types in NODE_TYPES,
// and a link only with an href that safeHref accepted (http, https, mailto).
//
// The syntax is the light Markdown people type in chat, with chat's rules where they differ:
//   ```code block```  (a fence at the start of a line; an unclosed fence stays literal)
//   > quote           (at the start of a line, with a space: ">:(" stays a face)
//   `code`  **bold**  *italic*  _italic_  ~~strike~~
//   bare http://, https:// and mailto: URLs (no [text](url): a link shows where it goes)
//   @name mentions (highlighted; the server resolves them to members, services/chat/mentions.ts)
// Emphasis never opens or closes inside a word (snake_case_names, 2*3*4 stay as typed), and
// code spans and links are opaque (no emphasis inside a URL's underscores).

/** Every node type the tree can hold. */
export const NODE_TYPES = Object.freeze(['root', 'text', 'strong', 'em', 'del', 'code', 'codeblock', 'quote', 'link', 'mention']);
/** The only schemes a link may have (URL.protocol form). */
export const LINK_SCHEMES = Object.freeze(['http:', 'https:', 'mailto:']);

// Deeper emphasis is unwrapped into its parent: pathological nesting (`*_*_*_…`) would otherwise
// build a DOM thousands of levels deep for every viewer of the message.
const MAX_DEPTH = 10;

/**
 * @param {string} text
 * @returns {{type: 'root', children: object[]}} nodes: {type: 'text'|'code'|'codeblock'|'mention', text},
 *   {type: 'strong'|'em'|'del'|'quote', children}, {type: 'link', href, text}
 */
export function parseRichText(text) {
  return { type: 'root', children: withMentions(limitDepth(blocks(String(text ?? '')), 1)) };
}

// As the server reads them (services/chat/mentions.ts): an @ that starts a word (not an e-mail's),
// then a username's characters; a trailing '.' or '-' is punctuation ("thanks @bob."). Names are
// at least 3 characters; @room, @here, @everyone and @channel address the room.
const MENTION_RE = /(?<![\w@.+-])@([A-Za-z0-9_.-]{1,32})/g;
const ROOM_ALIASES = new Set(['room', 'here', 'everyone', 'channel']);

/** Splits text nodes (never code or links) into text and mention nodes. */
function withMentions(nodes) {
  const out = [];
  for (const n of nodes) {
    if (n.type === 'text') splitMentions(out, n.text);
    else if (n.children) out.push({ type: n.type, children: withMentions(n.children) });
    else out.push(n);
  }
  return out;
}

function splitMentions(out, text) {
  if (!text.includes('@')) return pushText(out, text);
  let last = 0;
  for (const m of text.matchAll(MENTION_RE)) {
    const name = m[1].replace(/[.-]+$/, '');
    if (name.length < 3 && !ROOM_ALIASES.has(name.toLowerCase())) continue;
    pushText(out, text.slice(last, m.index));
    out.push({ type: 'mention', text: '@' + name });
    last = m.index + 1 + name.length;
  }
  pushText(out, text.slice(last));
}

/** `raw` as a canonical href when its scheme is allowed, else null. */
export function safeHref(raw) {
  let u;
  try {
    u = new URL(String(raw));
  } catch {
    return null;
  }
  return LINK_SCHEMES.includes(u.protocol) ? u.href : null;
}

// --- blocks: code fences and quotes, line by line ---------------------------------------------

const QUOTE_LINE = /^>(?: |$)/;

function blocks(src) {
  const out = [];
  let para = []; // lines of plain text since the last block
  const flush = () => {
    // The newline before a block is the block's own line break, not a blank line.
    if (para.length) out.push(...inline(para.join('\n')));
    para = [];
  };
  let pos = 0;
  for (;;) {
    const eol = src.indexOf('\n', pos);
    const end = eol === -1 ? src.length : eol;
    const line = src.slice(pos, end);
    const fence = line.startsWith('```') ? runLength(src, pos, '`') : 0;
    const close = fence ? findRun(src, pos + fence, '`', fence) : -1;
    if (close !== -1) {
      flush();
      out.push({ type: 'codeblock', text: fenceBody(src.slice(pos + fence, close)) });
      pos = close + fence;
      if (src[pos] === '\n') pos++;
      if (pos >= src.length) break;
      continue;
    }
    if (QUOTE_LINE.test(line)) {
      flush();
      const lines = [];
      let last = false;
      for (;;) {
        const e = src.indexOf('\n', pos);
        const l = src.slice(pos, e === -1 ? src.length : e);
        if (!QUOTE_LINE.test(l)) break;
        lines.push(l.slice(l.startsWith('> ') ? 2 : 1));
        if (e === -1) {
          last = true;
          break;
        }
        pos = e + 1;
      }
      out.push({ type: 'quote', children: inline(lines.join('\n')) });
      if (last) break;
      continue;
    }
    para.push(line);
    if (eol === -1) break;
    pos = eol + 1;
  }
  flush();
  return out;
}

/** The inside of a fence: a language tag on the opening line is dropped, as are the newlines
 *  right inside the fences. */
function fenceBody(body) {
  const lang = /^[\w+#.-]{1,20}\n/.exec(body);
  if (lang) body = body.slice(lang[0].length);
  if (body.startsWith('\n')) body = body.slice(1);
  if (body.endsWith('\n')) body = body.slice(0, -1);
  return body;
}

function runLength(s, i, ch) {
  let j = i;
  while (s[j] === ch) j++;
  return j - i;
}

/** Start of the next run of exactly `n` `ch`s at or after `from`, or -1. */
function findRun(s, from, ch, n) {
  let i = s.indexOf(ch, from);
  while (i !== -1) {
    const len = runLength(s, i, ch);
    if (len === n) return i;
    i = s.indexOf(ch, i + len);
  }
  return -1;
}

// --- inline: code spans, links, emphasis --------------------------------------------------------

const WS = /\s/u;
const PUNCT = /[\p{P}\p{S}]/u;
const WORD = /[\p{L}\p{N}]/u;
// A URL runs until whitespace, a quote, angle bracket or backtick, or an invisible or
// direction-changing character (which could make the text lie about where the link goes).
const URL_RE = /(?:https?:\/\/|mailto:)[^\s<>"`\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]+/iy;
const TRAILING = /[?!.,:;*_~'"]$/;
const PAIRS = { ')': '(', ']': '[', '}': '{' };

/** Text with emphasis, code spans and links, as nodes (no blocks). */
function inline(s) {
  const items = []; // {text} | {node} | {delim, n, open, close}
  let textStart = 0;
  const pushText = (end) => {
    if (end > textStart) items.push({ text: s.slice(textStart, end) });
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '`') {
      const n = runLength(s, i, '`');
      const close = findRun(s, i + n, '`', n);
      if (close !== -1) {
        pushText(i);
        items.push({ node: { type: 'code', text: codeSpanText(s.slice(i + n, close)) } });
        textStart = i = close + n;
      } else i += n; // no partner: the backticks are literal
      continue;
    }
    if ((c === 'h' || c === 'H' || c === 'm' || c === 'M') && !WORD.test(charBefore(s, i))) {
      const link = matchLink(s, i);
      if (link) {
        pushText(i);
        items.push({ node: link });
        textStart = i = i + link.text.length;
        continue;
      }
    }
    if (c === '*' || c === '_' || c === '~') {
      const n = runLength(s, i, c);
      const d = c === '~' && n !== 2 ? null : delimiter(s, i, n);
      if (d && (d.open || d.close)) {
        pushText(i);
        items.push({ delim: c, n, ...d });
        textStart = i + n;
      }
      i += n;
      continue;
    }
    i++;
  }
  pushText(s.length);
  matchEmphasis(items);
  return toNodes(items);
}

function codeSpanText(t) {
  // As in CommonMark: one space each side lets a span start or end with a backtick.
  return t.length > 2 && t.startsWith(' ') && t.endsWith(' ') && t.trim() ? t.slice(1, -1) : t;
}

function charBefore(s, i) {
  if (i === 0) return ' ';
  const lo = s.charCodeAt(i - 1);
  return lo >= 0xdc00 && lo <= 0xdfff && i >= 2 ? s.slice(i - 2, i) : s[i - 1];
}

const charAt = (s, i) => (i >= s.length ? ' ' : String.fromCodePoint(s.codePointAt(i)));

/** Whether a run of delimiters can open and/or close emphasis: CommonMark's flanking rules,
 *  with its rule for `_` (not inside a word) applied to every delimiter. */
function delimiter(s, i, n) {
  const b = charBefore(s, i);
  const a = charAt(s, i + n);
  const left = !WS.test(a) && (!PUNCT.test(a) || WS.test(b) || PUNCT.test(b));
  const right = !WS.test(b) && (!PUNCT.test(b) || WS.test(a) || PUNCT.test(a));
  return { open: left && (!right || PUNCT.test(b)), close: right && (!left || PUNCT.test(a)) };
}

function matchLink(s, i) {
  URL_RE.lastIndex = i;
  const m = URL_RE.exec(s);
  if (!m) return null;
  let text = m[0];
  // Punctuation that ends a sentence or closes a bracket opened before the URL is not part of it.
  for (;;) {
    const last = text[text.length - 1];
    if (TRAILING.test(text)) text = text.slice(0, -1);
    else if (PAIRS[last] && count(text, last) > count(text, PAIRS[last])) text = text.slice(0, -1);
    else break;
  }
  const ok = /^mailto:/i.test(text) ? /^mailto:[^@]+@[^@]+$/i.test(text) : /^https?:\/\/[^/?#]/i.test(text);
  const href = ok ? safeHref(text) : null;
  return href ? { type: 'link', href, text } : null;
}

const count = (s, ch) => s.split(ch).length - 1;

/**
 * Pairs delimiter runs into strong/em/del nodes, in place, the way CommonMark's "process
 * emphasis" does: each closer takes the nearest opener of its kind; what lies between becomes
 * the node's children and any delimiter left unpaired there becomes text. `bottom` remembers
 * where a closer found no opener, so the search stays linear-ish on hostile input.
 */
function matchEmphasis(items) {
  const bottom = { '*': -1, _: -1, '~': -1 };
  let i = 0;
  while (i < items.length) {
    const closer = items[i];
    if (!closer.delim || !closer.close || closer.n === 0) {
      i++;
      continue;
    }
    let j = i - 1;
    while (j > bottom[closer.delim] && !(items[j].delim === closer.delim && items[j].open && items[j].n > 0)) j--;
    if (j <= bottom[closer.delim]) {
      bottom[closer.delim] = i - 1;
      closer.close = false;
      i++;
      continue;
    }
    const opener = items[j];
    const use = closer.delim === '~' ? 2 : opener.n >= 2 && closer.n >= 2 ? 2 : 1;
    const type = closer.delim === '~' ? 'del' : use === 2 ? 'strong' : 'em';
    const node = { type, children: toNodes(items.slice(j + 1, i)) };
    items.splice(j + 1, i - j - 1, { node });
    // Indices past the opener moved: no search may start above it (safe, only slower).
    for (const k of Object.keys(bottom)) bottom[k] = Math.min(bottom[k], j - 1);
    i = j + 2; // the closer's new index
    opener.n -= use;
    closer.n -= use;
    if (opener.n === 0) {
      items.splice(j, 1);
      i--;
    }
    if (closer.n === 0) {
      items.splice(i, 1);
    }
  }
}

function toNodes(items) {
  const out = [];
  for (const it of items) {
    if (it.node) out.push(it.node);
    else pushText(out, it.delim ? it.delim.repeat(it.n) : it.text);
  }
  return out;
}

function pushText(out, text) {
  if (!text) return;
  const prev = out[out.length - 1];
  if (prev && prev.type === 'text') prev.text += text;
  else out.push({ type: 'text', text });
}

/** Unwraps emphasis below MAX_DEPTH into its parent, and joins the text nodes that leaves. */
function limitDepth(nodes, depth) {
  const out = [];
  for (const n of nodes) {
    if (!n.children) {
      if (n.type === 'text') pushText(out, n.text);
      else out.push(n);
    } else if (depth >= MAX_DEPTH && n.type !== 'quote') {
      for (const c of limitDepth(n.children, depth)) c.type === 'text' ? pushText(out, c.text) : out.push(c);
    } else out.push({ type: n.type, children: limitDepth(n.children, depth + 1) });
  }
  return out;
}
