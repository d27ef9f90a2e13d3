// What AuroraChat's OWN per-connection state costs on the V8 heap, measured in-process: N of
// each piece (and N whole Connection objects over a stand-in socket) are created and kept, the
// heap is measured after a full GC before and after; bytes per item = difference / N. Pairs
// with heap-diff.ts (which sees the whole replica, ws and node's socket objects included).
//
// Run: node --expose-gc --import tsx bench/capacity/objects.ts [N=20000]
import { EventEmitter } from 'node:events';
import { Connection, type ChatContext } from '../../services/chat/connection.js';
import { loadConfig } from '../../services/shared/config.js';
import { keysFor } from '../../services/shared/keys.js';
import { createLogger } from '../../services/shared/logger.js';

const N = Number(process.argv[2] ?? 20_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}

async function perItem(make: (i: number) => unknown): Promise<number> {
  const keep: unknown[] = new Array(N);
  gc!();
  gc!();
  const h0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < N; i++) keep[i] = make(i);
  // Lets what the objects scheduled run (e.g. wire.ts flushes queued frames at setImmediate).
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 10));
  gc!();
  gc!();
  const h1 = process.memoryUsage().heapUsed;
  // Keeps `keep` alive until after the second reading.
  if (keep.length !== N) throw new Error('unreachable');
  return (h1 - h0) / N;
}

/** ws's Sender as services/chat/wire.ts uses it (one shared, so it costs the stand-in nothing). */
const SENDER = { sendFrame(): void {} };

/** Stands in for a ws WebSocket: what Connection touches at start() and when writing. */
class FakeSocket extends EventEmitter {
  readonly _sender = SENDER;
  readyState = 1;
  bufferedAmount = 0;
  isPaused = false;
  send(): void {}
  close(): void {}
  terminate(): void {}
  pause(): void {}
  resume(): void {}
}

const config = loadConfig('chat', { LOG_LEVEL: 'warn', LOG_PRETTY: 'false', REPLICA_ID: 'objects' });
// A sink that drops everything: only the logger objects are measured.
const log = createLogger(config, { write: () => {} });
const counter = { inc: () => {} };
const ctx = {
  config,
  log,
  keys: keysFor(config.PARTITIONS),
  metrics: { framesIn: counter, framesOut: counter, rateLimited: counter, slowConsumerCloses: counter, errors: counter },
  // No Redis here: the user channel's subscription is not part of a Connection's own size.
  userChannels: { add: () => Promise.resolve(), remove: () => {} },
} as unknown as ChatContext;
const exp = Math.floor(Date.now() / 1000) + 3600;
const timers: NodeJS.Timeout[] = [];

function sharedListener(this: { owner?: { n: number } }): void {
  if (this.owner) this.owner.n++;
}

const rows: [string, number][] = [];
const row = async (what: string, make: (i: number) => unknown) => rows.push([what, await perItem(make)]);

await row('FakeSocket (EventEmitter stand-in; subtract from the Connection rows)', () => new FakeSocket());
await row('Connection over a FakeSocket, constructed', (i) => new Connection(new FakeSocket() as never, { id: `u${i}`, name: `u${i}` }, exp, `s${i}`, ctx, () => {}));
await row('Connection over a FakeSocket, after start() (listeners, expiry timer, hello)', (i) => {
  const c = new Connection(new FakeSocket() as never, { id: `u${i}`, name: `u${i}` }, exp, `s${i}`, ctx, () => {});
  c.start();
  return c;
});
await row('  pino child logger ({user})', (i) => log.child({ user: `u${i}` }));
await row('  unref\'d Timeout (token expiry timer)', () => {
  const t = setTimeout(() => {}, 3_600_000).unref();
  timers.push(t);
  return t;
});
await row('  empty Map', () => new Map());
await row('  empty Set', () => new Set());
await row('  empty Array', () => []);
await row('  Promise.resolve()', () => Promise.resolve());
await row('  4 listener closures on an EventEmitter', () => {
  const e = new EventEmitter();
  const self = { n: 0 };
  e.on('message', () => self.n++);
  e.on('pong', () => self.n++);
  e.on('error', () => self.n++);
  e.on('close', () => self.n++);
  return e;
});
await row('  4 shared module-level listeners on an EventEmitter (owner kept on a property)', () => {
  const e = new EventEmitter() as EventEmitter & { owner?: object };
  e.owner = { n: 0 };
  e.on('message', sharedListener);
  e.on('pong', sharedListener);
  e.on('error', sharedListener);
  e.on('close', sharedListener);
  return e;
});
await row('  bare EventEmitter', () => new EventEmitter());
await row('  bare EventEmitter with one extra property', () => Object.assign(new EventEmitter(), { owner: null }));
await row('  user object {id, name} with fresh strings', (i) => ({ id: `user-${i}`, name: `user-${i}` }));
for (const t of timers) clearTimeout(t);

process.stdout.write(`V8 heap bytes per item (N=${N}, heapUsed after full GC):\n`);
for (const [what, bytes] of rows) process.stdout.write(`  ${bytes.toFixed(0).padStart(6)}  ${what}\n`);
process.exit(0);
