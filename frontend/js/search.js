// Message search (GET /api/search, docs/REST.md "Search") without DOM: the query, its pages of
// results ("more results" follows `nextCursor`), the results grouped by room for the panel, and
// the snippet of each — a window of the message's text around its first match, cut into plain
// and marked parts from the server's `highlights` ([start, end) offsets in UTF-16 code units):
// the client builds the <mark>s itself, the server never sends markup.
import { getJson } from './authed.js';

export const PAGE = 20;
export const MAX_QUERY = 200;
const SNIPPET_MAX = 180;
const SNIPPET_BEFORE = 50;

const isId = (s) => typeof s === 'string' && /^\d+-\d+$/.test(s);

/** A result as the panel uses it, or null when the server's item is not one. */
export function validResult(r) {
  const m = r && r.message;
  if (!m || !isId(m.id) || typeof m.room !== 'string' || !m.user || typeof m.user.id !== 'string') return null;
  const room = r.room && typeof r.room.name === 'string' ? r.room : { name: m.room };
  const highlights = Array.isArray(r.highlights) ? r.highlights.filter((x) => Array.isArray(x) && Number.isInteger(x[0]) && Number.isInteger(x[1])) : [];
  return {
    message: { ...m, text: String(m.text ?? ''), user: { id: m.user.id, name: String(m.user.name || m.user.id) } },
    highlights,
    room: { name: String(room.name), kind: typeof room.kind === 'string' ? room.kind : null, title: typeof room.title === 'string' ? room.title : null },
  };
}

/** Results grouped by room, rooms in the order of their best result, results kept in rank order. */
export function groupByRoom(results) {
  const groups = new Map();
  for (const r of results) {
    let g = groups.get(r.room.name);
    if (!g) groups.set(r.room.name, (g = { room: r.room, results: [] }));
    g.results.push(r);
  }
  return [...groups.values()];
}

const isLow = (c) => c >= 0xdc00 && c <= 0xdfff; // the second half of a surrogate pair

/**
 * The snippet of `text`: { parts: [{ text, mark }], cutStart, cutEnd }. The whole text when it is
 * short; else SNIPPET_MAX code units from a little before the first match (at a word start when
 * one is near, never inside a surrogate pair). Highlights are sorted, clipped and merged first.
 */
export function snippet(text, highlights, { max = SNIPPET_MAX, before = SNIPPET_BEFORE } = {}) {
  const len = text.length;
  const hs = highlights
    .map(([s, e]) => [Math.max(0, Math.min(len, s)), Math.max(0, Math.min(len, e))])
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const h of hs) {
    const last = merged[merged.length - 1];
    if (last && h[0] <= last[1]) last[1] = Math.max(last[1], h[1]);
    else merged.push([...h]);
  }
  let start = 0;
  let end = len;
  if (len > max) {
    const first = merged.length ? merged[0][0] : 0;
    start = Math.max(0, first - before);
    end = Math.min(len, start + max);
    start = Math.max(0, end - max);
    if (start > 0) {
      // Start after a space when one is close (and before the match): no half word in front.
      const sp = text.slice(start, Math.min(first, start + 15)).search(/\s/);
      if (sp >= 0) start += sp + 1;
    }
    if (start > 0 && isLow(text.charCodeAt(start))) start++;
    if (end < len && isLow(text.charCodeAt(end))) end--;
  }
  const parts = [];
  let at = start;
  for (const [s, e] of merged) {
    if (e <= start || s >= end) continue;
    const a = Math.max(s, start);
    const b = Math.min(e, end);
    if (a > at) parts.push({ text: text.slice(at, a), mark: false });
    parts.push({ text: text.slice(a, b), mark: true });
    at = b;
  }
  if (at < end) parts.push({ text: text.slice(at, end), mark: false });
  return { parts, cutStart: start > 0, cutEnd: end < len };
}

/**
 * The search state: { q, results, nextCursor, loading, loadingMore, error, done }.
 * @param o.request (path, { signal }) => Promise<json> (tests replace it; default: signed-in GET)
 */
export function createSearch({ api, onChange = () => {}, request = null, limit = PAGE }) {
  const get = request || ((path, opts) => getJson(api, path, opts));
  const state = { q: '', results: [], nextCursor: null, loading: false, loadingMore: false, error: null, done: false };
  let gen = 0; // a newer query wins over answers still coming for an older one
  let ctrl = null;

  const path = (q, cursor) => {
    const p = new URLSearchParams({ q, limit: String(limit) });
    if (cursor) p.set('cursor', cursor);
    return `/api/search?${p}`;
  };

  async function page(g, cursor) {
    if (ctrl) ctrl.abort();
    ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    const res = await get(path(state.q, cursor), { signal: ctrl ? ctrl.signal : undefined });
    if (g !== gen) return null;
    const results = Array.isArray(res && res.results) ? res.results.map(validResult).filter(Boolean) : [];
    return { results, nextCursor: res && typeof res.nextCursor === 'string' && res.nextCursor ? res.nextCursor : null };
  }

  return {
    state,
    /** Searches `q` (trimmed); an empty query clears the results. */
    async run(q) {
      const g = ++gen;
      Object.assign(state, { q: String(q).trim(), results: [], nextCursor: null, loadingMore: false, error: null, done: false });
      if (!state.q || state.q.length > MAX_QUERY) {
        state.loading = false;
        if (ctrl) ctrl.abort();
        return onChange(state);
      }
      state.loading = true;
      onChange(state);
      try {
        const p = await page(g, null);
        if (!p) return;
        state.results = p.results;
        state.nextCursor = p.nextCursor;
        state.done = true;
      } catch (err) {
        if (g !== gen || (err && err.name === 'AbortError')) return;
        state.error = err;
      }
      if (g !== gen) return;
      state.loading = false;
      onChange(state);
    },
    /** The next page of the same query, appended (a result already listed is not listed twice). */
    async more() {
      if (!state.nextCursor || state.loading || state.loadingMore) return;
      const g = gen;
      state.loadingMore = true;
      state.error = null;
      onChange(state);
      try {
        const p = await page(g, state.nextCursor);
        if (!p) return;
        const seen = new Set(state.results.map((r) => r.message.id));
        state.results.push(...p.results.filter((r) => !seen.has(r.message.id)));
        state.nextCursor = p.nextCursor;
      } catch (err) {
        if (g !== gen || (err && err.name === 'AbortError')) return;
        state.error = err;
      }
      if (g !== gen) return;
      state.loadingMore = false;
      onChange(state);
    },
    reset() {
      gen++;
      if (ctrl) ctrl.abort();
      Object.assign(state, { q: '', results: [], nextCursor: null, loading: false, loadingMore: false, error: null, done: false });
    },
  };
}
