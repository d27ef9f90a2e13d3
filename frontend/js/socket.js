// The browser's WebSocket client: the SDK's Connection (sdk/src/connection.js — reconnect with
// jitter and replica rotation, resume with `since`, gap fill, ping/pong, in-band token refresh)
// plus the page's own signals that the network is back or the tab woke up.
import { Connection } from '../sdk/connection.js';

export { PROTOCOL } from '../sdk/protocol.js';
export { backoffDelay, overloadedRetryDelay, reconnectDelay, resolveWsUrl } from '../sdk/timing.js';

/** `online` and a tab becoming visible: retry now (or check a live-looking socket); `offline`: check. */
function browserWakeSignals(wake, probe) {
  const onVisible = () => {
    if (document.visibilityState === 'visible') wake();
  };
  window.addEventListener('online', wake);
  window.addEventListener('offline', probe);
  document.addEventListener('visibilitychange', onVisible);
  return () => {
    window.removeEventListener('online', wake);
    window.removeEventListener('offline', probe);
    document.removeEventListener('visibilitychange', onVisible);
  };
}

export class ChatSocket extends Connection {
  constructor(options) {
    super({ ...options, wakeSignals: browserWakeSignals });
  }
}
