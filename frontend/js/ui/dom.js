// The only way the client builds DOM: document.createElement + textContent. User data is never
// parsed as HTML (no innerHTML / insertAdjacentHTML / document.write anywhere in the client).

const ALLOWED_ATTRS = /^(aria-[a-z-]+|data-[a-z-]+|role|title|type|datetime|tabindex|for|id|lang|dir|disabled|hidden)$/;

/**
 * h('li', { className: 'x', text: 'hi', attrs: { title: 't' }, on: { click } }, ...children)
 * Children are nodes or strings (strings become text nodes).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  if (props.className) el.className = props.className;
  if (props.text !== undefined && props.text !== null) el.textContent = String(props.text);
  if (props.attrs) {
    for (const [k, v] of Object.entries(props.attrs)) {
      if (!ALLOWED_ATTRS.test(k)) throw new Error(`attribute not allowed: ${k}`);
      if (v === false || v === null || v === undefined) continue;
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  if (props.on) for (const [ev, fn] of Object.entries(props.on)) el.addEventListener(ev, fn);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

export const $ = (id) => document.getElementById(id);

/** Removes every child (no HTML parsing involved). */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Makes `list`'s children exactly `wanted` (elements, in order), moving or inserting only what
 * differs and removing the rest: elements that stay are neither rebuilt nor re-inserted.
 */
export function reconcile(list, wanted) {
  let cursor = list.firstChild;
  for (const el of wanted) {
    if (el === cursor) cursor = cursor.nextSibling;
    else list.insertBefore(el, cursor);
  }
  while (cursor) {
    const next = cursor.nextSibling;
    list.removeChild(cursor);
    cursor = next;
  }
}
