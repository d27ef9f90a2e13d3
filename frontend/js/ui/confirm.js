// A confirmation dialog (the page's <dialog id="confirm-dialog">, modal: focus stays inside,
// Escape cancels) instead of window.confirm, which blocks the page and cannot be styled.
import { $, setText } from './dom.js';

let settle = null; // resolves the open dialog's promise

/** Resolves true when the user confirms, false on Cancel, Escape or another confirm opening. */
export function confirmDialog({ title, message, preview = '', confirmLabel = 'Delete' }) {
  const dialog = $('confirm-dialog');
  if (settle) settle(false);
  const returnTo = document.activeElement;
  setText($('confirm-title'), title);
  setText($('confirm-message'), message);
  setText($('confirm-preview'), preview);
  $('confirm-preview').hidden = !preview;
  setText($('confirm-ok'), confirmLabel);
  return new Promise((resolve) => {
    const done = (ok) => {
      if (settle !== done) return;
      settle = null;
      $('confirm-ok').removeEventListener('click', onOk);
      $('confirm-cancel').removeEventListener('click', onCancel);
      dialog.removeEventListener('close', onCancel);
      if (dialog.open) dialog.close();
      if (returnTo && returnTo.isConnected && typeof returnTo.focus === 'function') returnTo.focus();
      resolve(ok);
    };
    const onOk = () => done(true);
    const onCancel = () => done(false);
    settle = done;
    $('confirm-ok').addEventListener('click', onOk);
    $('confirm-cancel').addEventListener('click', onCancel);
    dialog.addEventListener('close', onCancel); // Escape closes a modal dialog
    dialog.showModal();
    $('confirm-ok').focus(); // Enter confirms, as in Slack and Discord; Escape cancels
  });
}
