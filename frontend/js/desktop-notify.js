// Desktop notifications (the Notification API) for `notify` frames while the tab is hidden.
// Permission is asked only from a click on "Enable desktop notifications" (browsers ignore or
// penalise a prompt nobody asked for); never while my status is "do not disturb" (the server
// sends no `notify` frames then anyway). One per notification (`tag` = its id: a second tab of
// mine showing the same one replaces it rather than stacking). Clicking it focuses the window
// and opens the message.
import { STRINGS } from './strings.js';

export function createDesktopNotify({ onOpen, isDnd, win = window, doc = document }) {
  const api = () => (typeof win.Notification === 'function' ? win.Notification : null);

  return {
    /** 'granted' | 'denied' | 'default' | 'unsupported' */
    permission() {
      const N = api();
      return N ? N.permission : 'unsupported';
    },
    /** Asks for permission: call from a user's click only. */
    async request() {
      const N = api();
      if (!N) return 'unsupported';
      try {
        return await N.requestPermission();
      } catch {
        return N.permission;
      }
    },
    /** Shows `n` (an AppNotification) when the tab is hidden; returns the Notification or null. */
    show(n) {
      const N = api();
      if (!N || N.permission !== 'granted' || isDnd() || doc.visibilityState !== 'hidden') return null;
      const did = STRINGS.attention.did[n.kind] || STRINGS.attention.did.dm;
      let note;
      try {
        note = new N(did(n.actor && n.actor.name ? n.actor.name : '?'), { body: String(n.text || ''), tag: n.id });
      } catch {
        return null; // e.g. Android Chrome allows them only from a service worker
      }
      note.onclick = () => {
        try {
          win.focus();
        } catch {
          /* not allowed: the click still opens the message */
        }
        if (typeof note.close === 'function') note.close();
        onOpen(n);
      };
      return note;
    },
  };
}
