// Unread messages outside the page: the tab title ("(3) # general · AuroraChat") and the favicon
// (the app icon with a red badge holding the count, a dot past 99; the plain icon at 0). The
// total is read-state.js's: the user's rooms, the one on screen left out while the tab is
// visible, muted rooms by their mentions only. The icon is drawn on a canvas and set as a PNG
// data: URL (the CSP allows data: images; no inline style or script is involved).
import { totals } from './read-state.js';

const SIZE = 64;
const BADGE = '#ed4245';
const FALLBACK = '#5865f2';

export function createTitleBadge({ store, doc = document }) {
  const link = doc.querySelector('link[rel="icon"]');
  const plain = link ? { href: link.getAttribute('href'), type: link.getAttribute('type') } : null;
  let base = doc.title || 'AuroraChat';
  let iconCount = 0;
  let img = null;

  const view = () => ({ current: store.state.current, visible: doc.visibilityState === 'visible', countsLoaded: store.state.countsLoaded });

  function total() {
    return store.state.me ? totals(store.state.rooms.values(), view()).total : 0;
  }

  function render() {
    const n = total();
    const title = n > 0 ? `(${n > 999 ? '999+' : n}) ${base}` : base;
    if (doc.title !== title) doc.title = title;
    if (n !== iconCount) setIcon(n);
  }

  function setIcon(n) {
    iconCount = n;
    if (!link || !plain) return;
    if (n === 0) {
      link.setAttribute('href', plain.href);
      if (plain.type) link.setAttribute('type', plain.type);
      else link.removeAttribute('type');
      link.removeAttribute('data-count');
      return;
    }
    if (!img) {
      img = new Image();
      img.onload = () => iconCount > 0 && draw(iconCount);
      img.src = plain.href;
    }
    draw(n);
  }

  function draw(n) {
    const canvas = doc.createElement('canvas');
    canvas.width = SIZE;
    canvas.height = SIZE;
    const g = canvas.getContext('2d');
    if (!g) return;
    if (img && img.complete && img.naturalWidth > 0) g.drawImage(img, 0, 0, SIZE, SIZE);
    else {
      g.fillStyle = FALLBACK;
      g.beginPath();
      g.roundRect(0, 0, SIZE, SIZE, 16);
      g.fill();
    }
    const dot = n > 99;
    const r = dot ? 14 : 20;
    g.fillStyle = BADGE;
    g.beginPath();
    g.arc(SIZE - r, r, r, 0, Math.PI * 2);
    g.fill();
    if (!dot) {
      g.fillStyle = '#fff';
      g.font = `bold ${n > 9 ? 22 : 28}px system-ui, sans-serif`;
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText(String(n), SIZE - r, r + 1);
    }
    link.setAttribute('type', 'image/png');
    link.setAttribute('href', canvas.toDataURL('image/png'));
    link.setAttribute('data-count', String(n));
  }

  store.subscribe((topics) => {
    if (topics.has('all') || topics.has('rooms') || topics.has('current') || topics.has('me')) render();
  });
  doc.addEventListener('visibilitychange', render);

  return {
    /** The title without the count (the room on screen; room-header.js). */
    setTitle(title) {
      base = title;
      render();
    },
    render,
  };
}
