// Attachments (issue 16; docs/REST.md "Attachments") without DOM: what a message's
// `attachments` hold (validated: a frame or page is data, never trusted), the signed links that
// show them, and the upload queue of the files the user is about to send.
//
// - Links: an <img src> or a download <a href> cannot carry the Authorization header, so each
//   file variant gets a short-lived signed URL from GET …/attachments/:id/link. One is cached
//   until shortly before its `expiresAt` and asked for again after; concurrent asks share one
//   request.
// - Uploads: POST /api/rooms/:room/attachments?name=… with the raw File as the body, through
//   XMLHttpRequest (fetch reports no upload progress), at most MAX_PARALLEL at a time; cancel =
//   abort. A refusal (413 too large, 415 type not allowed, 429 rate or quota) stays on the file
//   with the server's message. A message names the uploads that finished (ids); the uploads are
//   per room (an id is good for the room it was uploaded to only).
import { ApiError } from './api.js';
import { apiErrorOf, getJson, withToken } from './authed.js';

export const ATTACHMENT_ID_RE = /^a[0-9a-f]{24}$/;
export const MAX_FILES_PER_MESSAGE = 10;
const MAX_PARALLEL = 3;
// A link is used up to this long before it expires (an <img> may start loading a moment later).
const LINK_MARGIN_MS = 30_000;
const THUMB_BOX = 320; // the server's thumbnails fit inside 320x320

const roomPath = (room) => `/api/rooms/${encodeURIComponent(room)}`;
const dim = (x) => Number.isSafeInteger(x) && x > 0;

/** A message's (or frame's) attachments, each checked; [] when it has none. */
export function attachmentsOf(m) {
  const list = m && Array.isArray(m.attachments) ? m.attachments : [];
  const out = [];
  for (const a of list.slice(0, MAX_FILES_PER_MESSAGE)) {
    if (!a || typeof a.id !== 'string' || !ATTACHMENT_ID_RE.test(a.id) || typeof a.name !== 'string' || typeof a.type !== 'string') continue;
    if (!Number.isSafeInteger(a.size) || a.size < 0) continue;
    const att = { id: a.id, name: a.name || 'file', type: a.type, size: a.size };
    if (dim(a.width) && dim(a.height)) {
      att.width = a.width;
      att.height = a.height;
    }
    if (a.thumb === true) att.thumb = true;
    out.push(att);
  }
  return out;
}

/** Shown as a picture (its thumbnail), not as a file card. */
export const isPreviewable = (a) => a.thumb === true && /^image\/(png|jpeg|webp|gif)$/.test(a.type);

/** The thumbnail's size on screen: the image scaled to fit inside the 320 px box, never up. */
export function thumbSize(a, box = THUMB_BOX) {
  if (!dim(a.width) || !dim(a.height)) return { width: box, height: box };
  const k = Math.min(1, box / a.width, box / a.height);
  return { width: Math.max(1, Math.round(a.width * k)), height: Math.max(1, Math.round(a.height * k)) };
}

/** 900 B, 12 KB, 3.4 MB, 1.2 GB (1 KB = 1024 B, as file managers count). */
export function humanSize(bytes) {
  const n = Math.max(0, Number(bytes) || 0);
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1).replace(/\.0$/, '') : Math.round(v)} ${units[i]}`;
}

/** A short word for a type: "PDF", "PNG", "TEXT", "ZIP"… */
export function typeLabel(type) {
  const sub = String(type).split('/')[1] || 'file';
  const known = { plain: 'TEXT', 'vnd.openxmlformats-officedocument.wordprocessingml.document': 'DOCX', 'vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'XLSX', 'x-zip-compressed': 'ZIP', mpeg: 'MP3' };
  return (known[sub] || sub.split(/[.+-]/)[0]).toUpperCase().slice(0, 6);
}

// --- links ------------------------------------------------------------------------------------

/** The signed-link cache; `use(api)` once signed in. `now` is injectable for tests. */
export function createLinkCache({ now = () => Date.now(), fetchLink = null } = {}) {
  let api = null;
  const links = new Map(); // key -> { url, expiresAt } | { promise }
  const fetcher = fetchLink || ((room, id, variant) => getJson(api, `${roomPath(room)}/attachments/${encodeURIComponent(id)}/link${variant === 'thumb' ? '?variant=thumb' : ''}`));
  const keyOf = (room, id, variant) => `${room}\n${id}\n${variant}`;
  const fresh = (e) => e && e.url && e.expiresAt - LINK_MARGIN_MS > now();

  return {
    use(a) {
      api = a;
      links.clear();
    },
    /** A cached URL still good for a while, or null. */
    peek(room, id, variant = 'file') {
      const e = links.get(keyOf(room, id, variant));
      return fresh(e) ? e.url : null;
    },
    /** A URL for `variant` ('file' | 'thumb') of attachment `id` of `room`; rejects with ApiError. */
    get(room, id, variant = 'file') {
      const key = keyOf(room, id, variant);
      const e = links.get(key);
      if (fresh(e)) return Promise.resolve(e.url);
      if (e && e.promise) return e.promise;
      const promise = fetcher(room, id, variant).then(
        (res) => {
          // Only our own path: a link is never anything that could run or leave the site.
          if (!res || typeof res.url !== 'string' || !res.url.startsWith('/files/')) throw new ApiError(0, 'bad_link', 'The server sent an unusable link.');
          const expiresAt = Number(res.expiresAt) || 0;
          links.set(key, { url: res.url, expiresAt });
          return res.url;
        },
        (err) => {
          links.delete(key);
          throw err;
        },
      );
      links.set(key, { promise });
      return promise;
    },
    clear() {
      links.clear();
    },
  };
}

/** The one cache of the page (message items are built without an api handle). */
export const fileLinks = createLinkCache();

// --- uploads ----------------------------------------------------------------------------------

/** One XHR upload of `file` → { status, body } (status 0: network error); `onProgress(loaded)`. */
function xhrUpload(url, token, file, { onProgress, onXhr }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    onXhr(xhr);
    xhr.open('POST', url);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.responseType = 'text';
    xhr.upload.onprogress = (ev) => onProgress(ev.loaded);
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText || 'null');
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      const ra = Number(xhr.getResponseHeader('Retry-After'));
      reject(apiErrorOf(xhr.status, body, Number.isFinite(ra) && ra > 0 ? ra : null));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload was interrupted. Check your connection and try again.'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Cancelled.'));
    xhr.send(file);
  });
}

let keys = 0;

/**
 * The files waiting to be sent, per room. Each item: { key, room, name, size, loaded,
 * state: 'waiting' | 'uploading' | 'done' | 'failed', error, attachment }.
 * @param o.upload (room, file, { onProgress, onXhr }) => Promise<{attachment}> (tests replace it)
 */
export function createUploads({ api, onChange = () => {}, upload = null }) {
  const items = new Map(); // key -> item (in the order added)
  const xhrs = new Map(); // key -> the XHR under way
  const send =
    upload ||
    ((room, file, hooks) =>
      withToken(api, (token) => xhrUpload(`${roomPath(room)}/attachments?name=${encodeURIComponent(file.name || 'file')}`, token, file, hooks)));

  function pump() {
    let running = [...items.values()].filter((it) => it.state === 'uploading').length;
    for (const it of items.values()) {
      if (running >= MAX_PARALLEL) break;
      if (it.state === 'waiting') {
        running++;
        start(it);
      }
    }
  }

  async function start(it) {
    it.state = 'uploading';
    onChange(it.room);
    try {
      const res = await send(it.room, it.file, {
        onProgress: (loaded) => {
          it.loaded = Math.min(loaded, it.size);
          onChange(it.room);
        },
        onXhr: (xhr) => xhrs.set(it.key, xhr),
      });
      if (!items.has(it.key)) return; // cancelled meanwhile
      const [attachment] = attachmentsOf({ attachments: [res && res.attachment] });
      if (!attachment) throw new ApiError(0, 'bad_answer', 'The server’s answer was not understood.');
      Object.assign(it, { state: 'done', loaded: it.size, attachment, file: null });
    } catch (err) {
      if (!items.has(it.key)) return;
      it.state = 'failed';
      it.error = err instanceof ApiError ? err : new ApiError(0, 'error', String((err && err.message) || err));
    } finally {
      xhrs.delete(it.key);
    }
    onChange(it.room);
    pump();
  }

  return {
    /** Queues `file` for `room`; returns its item. */
    add(room, file) {
      const it = { key: `u${++keys}`, room, file, name: file.name || 'file', size: file.size || 0, loaded: 0, state: 'waiting', error: null, attachment: null };
      items.set(it.key, it);
      onChange(room);
      pump();
      return it;
    },
    /** Cancel (aborts an upload under way) or remove (a finished or refused one). */
    remove(key) {
      const it = items.get(key);
      if (!it) return;
      items.delete(key);
      const xhr = xhrs.get(key);
      if (xhr) xhr.abort();
      onChange(it.room);
      pump();
    },
    inRoom: (room) => [...items.values()].filter((it) => it.room === room),
    /** Uploads of `room` still waiting or under way (a send waits for them). */
    busy: (room) => [...items.values()].filter((it) => it.room === room && (it.state === 'waiting' || it.state === 'uploading')).length,
    /** The finished uploads of `room` (what a send now would carry). */
    ready: (room) => [...items.values()].filter((it) => it.room === room && it.state === 'done').map((it) => it.attachment),
    /** A message took the finished uploads of `room`: they leave the queue. */
    sent(room) {
      for (const [key, it] of items) if (it.room === room && it.state === 'done') items.delete(key);
      onChange(room);
    },
    /** Sign-out: every upload cancelled, the queue emptied. */
    clear() {
      const rooms = new Set([...items.values()].map((it) => it.room));
      for (const xhr of xhrs.values()) xhr.abort();
      xhrs.clear();
      items.clear();
      for (const room of rooms) onChange(room);
    },
  };
}
