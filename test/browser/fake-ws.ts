// A fake WebSocket for unit tests of the browser client's ChatSocket in Node: it records what the
// client sends and lets a test play the server (accept with a hello, frames, a close). Installed
// as globalThis.WebSocket with just enough `window`/`document` for socket.js.
export class FakeWS {
  static OPEN = 1;
  static instances: FakeWS[] = [];
  readyState = 0;
  protocol = '';
  sent: any[] = [];
  onopen: any = null;
  onmessage: any = null;
  onclose: any = null;
  onerror: any = null;
  constructor(
    public url: string,
    public protocols: string[],
  ) {
    FakeWS.instances.push(this);
  }
  send(d: string) {
    this.sent.push(JSON.parse(d));
  }
  close() {
    this.readyState = 3;
  }
  accept() {
    this.readyState = 1;
    this.protocol = 'aurora.v1';
    this.onopen?.();
    this.frame({ type: 'hello', replica: 'r1' });
  }
  frame(f: any) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  serverClose(code: number) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

export function installFakeWebSocket() {
  const g = globalThis as any;
  g.window ??= { location: { href: 'http://localhost/' }, addEventListener() {}, removeEventListener() {} };
  g.document ??= { hidden: false };
  Object.assign(g.document, { visibilityState: 'visible', addEventListener() {}, removeEventListener() {} });
  g.WebSocket = FakeWS;
}

/** Lets pending promise callbacks run (a gap fill's awaits). */
export async function ticks(n = 20) {
  for (let i = 0; i < n; i++) await Promise.resolve();
}
