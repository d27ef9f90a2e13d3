// Attaching files to a message in a box — the room's, or the thread panel's (its own queue, its
// sends carry `replyTo`): the 📎 button (a file picker), pasting files (a screenshot) into the
// box, or dropping them anywhere on the chat (the thread panel). Each file uploads at once
// (attachments.js) and waits in a strip above the box with its progress bar and a ✕ that cancels
// the upload (or removes the file); a refusal stays on the file with the server's reason. The
// send button waits until every upload has finished (composer.setFiles); a message may be files
// alone. What is shown is the queue of the box's room: uploads belong to the room they went to.
import { $, h, setText, reconcile } from './dom.js';
import { createUploads, fileLinks, humanSize, MAX_FILES_PER_MESSAGE } from '../attachments.js';
import { FILES } from '../strings-files.js';

const hasFiles = (ev) => !!ev.dataTransfer && [...ev.dataTransfer.types].includes('Files');

/** A badge from the file name's extension (only for the strip: the server sniffs the real type). */
function extLabel(name) {
  const m = /\.([A-Za-z0-9]{1,5})$/.exec(name);
  return m ? m[1].toUpperCase() : 'FILE';
}

const MAIN_IDS = { strip: 'attach-strip', input: 'attach-input', button: 'attach-btn', area: 'chat', drop: 'drop-zone' };
let pageGuarded = false;

/**
 * @param o.ids    the elements (MAIN_IDS for the room's box)
 * @param o.roomOf () => the room the box sends to (the room on screen by default)
 * @param o.topics store topics after which the box may be another room's
 */
export function mountAttach({ store, api, composer, toast, ids = MAIN_IDS, roomOf = () => store.state.current, topics = ['current'] }) {
  const strip = $(ids.strip);
  const input = $(ids.input);
  const chat = $(ids.area);
  const drop = $(ids.drop);
  const rows = new Map(); // upload key -> { li, bar, status, btn }
  let shown = null; // the room whose queue the strip shows
  let depth = 0; // dragenter/dragleave pairs over the chat (children fire their own)

  fileLinks.use(api);
  const uploads = createUploads({ api, onChange: (room) => room === roomOf() && render() });

  function addFiles(list) {
    const room = roomOf();
    const files = [...list].filter((f) => f && typeof f.size === 'number');
    if (!files.length) return;
    if (!room) return toast(FILES.noRoom, { kind: 'error' });
    const held = uploads.inRoom(room).filter((it) => it.state !== 'failed').length;
    const left = Math.max(0, MAX_FILES_PER_MESSAGE - held);
    if (files.length > left) toast(FILES.tooMany(MAX_FILES_PER_MESSAGE), { kind: 'error' });
    for (const f of files.slice(0, left)) uploads.add(room, f);
  }

  $(ids.button).addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    addFiles(input.files || []);
    input.value = ''; // the same file chosen again is a new change
  });
  composer.input.addEventListener('paste', (ev) => {
    const files = ev.clipboardData ? [...ev.clipboardData.files] : [];
    if (!files.length) return;
    ev.preventDefault(); // a pasted file is attached, its name is not typed
    addFiles(files);
  });

  const showDrop = (on) => {
    drop.hidden = !on;
    chat.classList.toggle('dropping', on);
  };
  chat.addEventListener('dragenter', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth++;
    showDrop(true);
  });
  chat.addEventListener('dragover', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = 'copy';
  });
  chat.addEventListener('dragleave', (ev) => {
    if (!hasFiles(ev)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) showDrop(false);
  });
  chat.addEventListener('drop', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth = 0;
    showDrop(false);
    addFiles(ev.dataTransfer.files);
  });
  // A file dropped beside the chat must not replace the page with it.
  if (!pageGuarded) for (const type of ['dragover', 'drop']) window.addEventListener(type, (ev) => hasFiles(ev) && ev.preventDefault());
  pageGuarded = true;

  function row(it) {
    const bar = h('progress', { className: 'attach-bar', attrs: { 'aria-label': it.name } });
    bar.max = 100;
    const status = h('span', { className: 'attach-status' });
    const btn = h('button', { className: 'icon-btn attach-remove', text: '✕', attrs: { type: 'button' }, on: { click: () => remove(it.key) } });
    const li = h(
      'li',
      { className: 'attach-item', attrs: { 'data-key': it.key } },
      h('span', { className: 'file-type', text: extLabel(it.name), attrs: { 'aria-hidden': 'true' } }),
      h('span', { className: 'attach-info' }, h('span', { className: 'attach-name', text: it.name, attrs: { title: it.name } }), h('span', { className: 'attach-size', text: humanSize(it.size) }), bar, status),
      btn,
    );
    return { li, bar, status, btn };
  }

  function remove(key) {
    const r = rows.get(key);
    const next = r && (r.li.nextElementSibling || r.li.previousElementSibling);
    uploads.remove(key);
    // Keep the keyboard where it was: on the next file's ✕, else back in the box.
    const to = next && next.querySelector('.attach-remove');
    (to || composer.input).focus();
  }

  function render() {
    const room = roomOf();
    if (room !== shown) {
      shown = room;
      rows.clear();
    }
    const items = room ? uploads.inRoom(room) : [];
    const keep = new Set();
    const wanted = [];
    for (const it of items) {
      let r = rows.get(it.key);
      if (!r) rows.set(it.key, (r = row(it)));
      keep.add(it.key);
      const pct = it.size ? Math.floor((100 * it.loaded) / it.size) : it.state === 'done' ? 100 : 0;
      r.li.dataset.state = it.state;
      r.bar.hidden = it.state !== 'uploading' && it.state !== 'waiting';
      r.bar.value = pct;
      const why = it.error ? it.error.message || FILES.network : '';
      setText(r.status, it.state === 'failed' ? FILES.failed(why) : it.state === 'done' ? FILES.ready : it.state === 'uploading' ? FILES.uploading(pct) : FILES.waiting);
      r.status.setAttribute('role', it.state === 'failed' ? 'alert' : 'status');
      const label = it.state === 'uploading' || it.state === 'waiting' ? FILES.cancel(it.name) : FILES.remove(it.name);
      r.btn.setAttribute('aria-label', label);
      r.btn.title = label;
      wanted.push(r.li);
    }
    for (const key of rows.keys()) if (!keep.has(key)) rows.delete(key);
    reconcile(strip, wanted);
    strip.hidden = wanted.length === 0;
    composer.setFiles({ ready: room ? uploads.ready(room).length : 0, busy: room ? uploads.busy(room) : 0 });
  }

  store.subscribe((changed) => {
    // Signed out (the store was reset): nothing of the last user's stays queued.
    if (changed.has('all') && !store.state.me) uploads.clear();
    if (changed.has('all') || topics.some((t) => changed.has(t))) render();
  });

  return {
    /** Sends `text` to `room` through `sender` with the finished uploads of the room, which then
     *  leave the strip; a message may be files alone (its text is then ''). False when not sent.
     *  `replyTo`: a reply in that thread. */
    send(room, text, sender, replyTo = null) {
      const files = uploads.ready(room);
      if (!sender.send(room, files.length && !text.trim() ? '' : text, replyTo, files)) return false;
      uploads.sent(room);
      return true;
    },
    /** Sign-out: uploads cancelled, links forgotten. */
    stop() {
      uploads.clear();
      fileLinks.clear();
      render();
    },
  };
}
