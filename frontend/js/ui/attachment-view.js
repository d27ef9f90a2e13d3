// A message's files on screen (message-item.js, pending sends too): pictures as previews — the
// server's thumbnail through a signed link, the <img> sized from the attachment's width and
// height before it loads (no layout jump), alt = the file name, a click opens the full-size
// image in a modal viewer — and every other file as a card: a type badge, the name, its size and
// a download link (a signed URL; the server sends it as `attachment`, never rendered here).
// Text only through textContent; URLs only our own `/files/…` links (attachments.js).
import { h, $, setText } from './dom.js';
import { fileLinks, humanSize, isPreviewable, thumbSize, typeLabel } from '../attachments.js';
import { FILES } from '../strings-files.js';

/** The files of one message, in their order: pictures first in a grid, then the cards. */
export function attachmentsEl(room, list) {
  const pics = list.filter(isPreviewable);
  const others = list.filter((a) => !isPreviewable(a));
  return h(
    'div',
    { className: 'msg-files' },
    pics.length ? h('div', { className: 'file-pics' }, ...pics.map((a) => pictureEl(room, a))) : null,
    ...others.map((a) => cardEl(room, a)),
  );
}

function pictureEl(room, a) {
  const size = thumbSize(a);
  const img = document.createElement('img');
  img.className = 'file-thumb-img loading';
  img.alt = a.name;
  img.width = size.width;
  img.height = size.height;
  img.decoding = 'async';
  img.addEventListener('load', () => img.classList.remove('loading'));
  img.addEventListener('error', () => unavailable(btn));
  const btn = h('button', { className: 'file-thumb', attrs: { type: 'button', 'aria-label': FILES.open(a.name), title: a.name, 'data-attachment': a.id }, on: { click: () => openViewer(room, a) } }, img);
  const cached = fileLinks.peek(room, a.id, 'thumb');
  if (cached) img.src = cached;
  else fileLinks.get(room, a.id, 'thumb').then((url) => (img.src = url), () => unavailable(btn));
  return btn;
}

function unavailable(el) {
  el.classList.add('file-gone');
  el.disabled = true;
  el.title = FILES.unavailable;
}

function cardEl(room, a) {
  const link = h('a', { className: 'file-download btn btn-small', text: FILES.download, attrs: { 'aria-label': FILES.downloadName(a.name), 'data-attachment': a.id } });
  link.download = a.name;
  link.rel = 'noopener';
  const setHref = (url) => (link.href = url);
  const cached = fileLinks.peek(room, a.id, 'file');
  if (cached) setHref(cached);
  else fileLinks.get(room, a.id, 'file').then(setHref, () => {});
  // A page left open past the link's life: a click asks for a fresh link, then follows it.
  link.addEventListener('click', (ev) => {
    if (fileLinks.peek(room, a.id, 'file') && link.href) return;
    ev.preventDefault();
    fileLinks.get(room, a.id, 'file').then(
      (url) => {
        setHref(url);
        link.click();
      },
      () => unavailable(card),
    );
  });
  const card = h(
    'div',
    { className: 'file-card', attrs: { 'data-attachment': a.id } },
    h('span', { className: 'file-type', text: typeLabel(a.type), attrs: { 'aria-hidden': 'true' } }),
    h('span', { className: 'file-info' }, h('span', { className: 'file-name', text: a.name, attrs: { title: a.name } }), h('span', { className: 'file-meta', text: `${typeLabel(a.type)} · ${humanSize(a.size)}` })),
    link,
  );
  return card;
}

// --- the full-size viewer (index.html <dialog id="file-viewer">) --------------------------------

let viewerReady = false;
let viewing = 0; // a newer open wins over a link still coming for an older one

function setupViewer() {
  if (viewerReady) return;
  viewerReady = true;
  const dialog = $('file-viewer');
  $('file-viewer-close').addEventListener('click', () => dialog.close());
  // A click on the backdrop (the dialog box itself, outside the picture and the bar) closes it.
  dialog.addEventListener('click', (ev) => {
    if (ev.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => {
    viewing++;
    $('file-viewer-img').removeAttribute('src');
  });
}

export function openViewer(room, a) {
  setupViewer();
  const dialog = $('file-viewer');
  const img = $('file-viewer-img');
  const link = $('file-viewer-download');
  const mine = ++viewing;
  img.alt = a.name;
  if (a.width && a.height) {
    img.width = a.width;
    img.height = a.height;
  }
  // The thumbnail we already have stands in until the full picture arrives.
  const thumb = fileLinks.peek(room, a.id, 'thumb');
  if (thumb) img.src = thumb;
  else img.removeAttribute('src');
  setText($('file-viewer-name'), a.name);
  setText($('file-viewer-meta'), humanSize(a.size));
  setText($('file-viewer-error'), '');
  link.removeAttribute('href');
  link.download = a.name;
  if (!dialog.open) dialog.showModal();
  fileLinks.get(room, a.id, 'file').then(
    (url) => {
      if (mine !== viewing) return;
      img.src = url;
      link.href = url;
    },
    () => mine === viewing && setText($('file-viewer-error'), FILES.unavailable),
  );
}
