// The formatting tree of rich-text.js as DOM: one fixed element per node type, text only through
// text nodes and textContent, and no attribute but a link's href/rel/target. A node type this
// file does not know builds nothing, so the element and attribute allow-list below holds even
// if the parser were wrong; a link's href is checked again here for the same reason.
import { parseRichText, safeHref } from '../rich-text.js';

/** Every element a message's text can contain, and the attributes each may carry. */
export const RICH_TEXT_ALLOWED = Object.freeze({
  STRONG: [],
  EM: [],
  DEL: [],
  CODE: [],
  PRE: [],
  BLOCKQUOTE: [],
  A: ['href', 'rel', 'target'],
  MARK: [], // an @mention
});

const WRAPPERS = { strong: 'strong', em: 'em', del: 'del', quote: 'blockquote' };

/** Replaces `el`'s content with `text`, formatted. */
export function renderRichText(el, text) {
  const frag = document.createDocumentFragment();
  appendNodes(frag, parseRichText(text).children);
  el.replaceChildren(frag);
  return el;
}

function appendNodes(parent, nodes) {
  for (const n of nodes) {
    const el = build(n);
    if (el) parent.appendChild(el);
  }
}

function build(n) {
  switch (n.type) {
    case 'text':
      return document.createTextNode(n.text);
    case 'code':
      return withText('code', n.text);
    case 'codeblock': {
      const pre = document.createElement('pre');
      pre.appendChild(withText('code', n.text));
      return pre;
    }
    case 'link':
      return link(n);
    case 'mention':
      return withText('mark', n.text);
    default: {
      const tag = WRAPPERS[n.type];
      if (!tag) return null;
      const el = document.createElement(tag);
      appendNodes(el, n.children);
      return el;
    }
  }
}

function link(n) {
  const href = safeHref(n.href);
  if (!href) return document.createTextNode(n.text);
  const a = withText('a', n.text);
  a.setAttribute('href', href);
  // noopener: the opened page gets no window.opener; noreferrer: nor the room's URL.
  a.setAttribute('rel', 'noopener noreferrer');
  if (!href.startsWith('mailto:')) a.setAttribute('target', '_blank');
  return a;
}

function withText(tag, text) {
  const el = document.createElement(tag);
  el.textContent = text;
  return el;
}
