// The connection indicator in the chat header: a coloured dot and a short text (Connected /
// Connecting… / Reconnecting in 3 s… / Offline), the replica in its tooltip and in
// data-replica, and a "Retry now" button while a retry is scheduled. The visible text (with its
// per-second countdown) is aria-hidden; screen readers get #conn-sr inside the live region,
// which changes only when the state does, so they are not told the countdown every second.
import { $, setText } from './dom.js';
import { STRINGS } from '../strings.js';

const T = STRINGS.connection;

export function mountStatus({ onRetry }) {
  const box = $('conn');
  const text = $('conn-text');
  const sr = $('conn-sr');
  const retry = $('conn-retry');
  const meStatus = $('me-status');
  let countdown = 0;
  retry.addEventListener('click', () => onRetry());

  function render(c) {
    clearInterval(countdown);
    const state = c.state === 'reconnecting' && !navigator.onLine ? 'offline' : c.state;
    box.dataset.state = state;
    if (c.replica) box.dataset.replica = c.replica;
    else delete box.dataset.replica;
    // The visible label adds the countdown; the live region announces the state only.
    const label = () => {
      const left = state === 'reconnecting' && c.retryAt ? Math.ceil((c.retryAt - Date.now()) / 1000) : 0;
      return left > 0 ? T.reconnectingIn(left) : srLabel(state);
    };
    setText(text, label());
    setText(sr, srLabel(state));
    setText(meStatus, state === 'connected' ? T.meOnline : state === 'offline' ? T.meOffline : T.meReconnecting);
    box.title = state === 'connected' ? T.connectedTo(`${c.replica || 'chat'}${c.url ? ` (${c.url})` : ''}`) : label();
    retry.hidden = !(state === 'reconnecting' && c.retryAt && c.retryAt - Date.now() > 1500);
    if (state === 'reconnecting' && c.retryAt) {
      countdown = setInterval(() => {
        setText(text, label());
        if (c.retryAt <= Date.now()) {
          clearInterval(countdown);
          retry.hidden = true;
        }
      }, 1000);
    }
  }

  return { render };
}

/** What the live region announces: the state only, never a countdown. */
function srLabel(state) {
  switch (state) {
    case 'connected':
      return T.connected;
    case 'connecting':
      return T.connecting;
    case 'offline':
      return T.waitingForNetwork;
    case 'reconnecting':
      return T.reconnecting;
    case 'stopped':
      return T.disconnected;
    default:
      return T.offline;
  }
}
