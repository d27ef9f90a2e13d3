// Test helpers for chat end-to-end tests: a real `ws` client that records every frame and
// close, plus token signing with the services' own module.
import { WebSocket } from 'ws';
import { signAccessToken } from '../../services/shared/tokens.js';
import { waitFor } from '../helpers/ports.js';

export const JWT_SECRET = 'test-secret-for-chat-e2e-0123456789abcdef';
export const ORIGIN = 'http://app.test';

export function tokenFor(id: string, name = id, ttlSec = 600): string {
  return signAccessToken(JWT_SECRET, { id, name }, ttlSec).token;
}

export type Frame = Record<string, any> & { type: string };

export interface Rejection {
  status: number;
}

/** Resolves with the HTTP status when the server refuses the upgrade; rejects if it opens. */
export function expectRejected(url: string, protocols: string[], headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error('upgrade unexpectedly accepted'));
    });
    ws.on('error', () => {});
  });
}

export class TestClient {
  readonly frames: Frame[] = [];
  closeCode: number | null = null;
  closeReason = '';
  readonly closed: Promise<number>;
  private cursor = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve(code);
      }),
    );
    ws.on('error', () => {});
  }

  static async connect(
    baseUrl: string,
    token: string,
    { origin = ORIGIN, protocols }: { origin?: string | null; protocols?: string[] } = {},
  ): Promise<TestClient> {
    const url = baseUrl.replace(/^http/, 'ws') + '/ws';
    const ws = new WebSocket(url, protocols ?? ['aurora.v1', `bearer.${token}`], {
      headers: origin ? { origin } : {},
    });
    const c = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    await c.next('hello');
    return c;
  }

  send(o: unknown): void {
    this.ws.send(typeof o === 'string' ? o : JSON.stringify(o));
  }

  /** The next frame (after the previous next()) matching type and predicate. */
  async next(type: string, pred: (f: Frame) => boolean = () => true, timeoutMs = 10_000): Promise<Frame> {
    return waitFor(
      () => {
        for (let i = this.cursor; i < this.frames.length; i++) {
          const f = this.frames[i]!;
          if (f.type === type && pred(f)) {
            this.cursor = i + 1;
            return f;
          }
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 10, what: `a ${type} frame` },
    );
  }

  /** Waits for any frame (ignoring the cursor) matching. */
  async find(type: string, pred: (f: Frame) => boolean = () => true, timeoutMs = 10_000): Promise<Frame> {
    return waitFor(() => this.frames.find((f) => f.type === type && pred(f)), { timeoutMs, intervalMs: 10, what: `a ${type} frame` });
  }

  all(type: string, pred: (f: Frame) => boolean = () => true): Frame[] {
    return this.frames.filter((f) => f.type === type && pred(f));
  }

  async join(room: string, since?: string): Promise<Frame> {
    this.send(since ? { type: 'join', room, since } : { type: 'join', room });
    return this.next('joined', (f) => f.room === room);
  }

  async sendText(room: string, text: string, cid: string): Promise<Frame> {
    this.send({ type: 'send', room, text, cid });
    return waitFor(
      () => this.frames.find((f) => (f.type === 'ack' && f.cid === cid) || (f.type === 'error' && f.ref === cid)),
      { timeoutMs: 10_000, intervalMs: 10, what: `ack for ${cid}` },
    );
  }

  /** Sends a frame carrying `cid` (send, edit, delete, react) and waits for ITS ack or error (a retry's, not the first one's). */
  async request(o: { cid: string } & Record<string, unknown>): Promise<Frame> {
    const from = this.frames.length;
    this.send(o);
    return waitFor(
      () => this.frames.slice(from).find((f) => (f.type === 'ack' && f.cid === o.cid) || (f.type === 'error' && f.ref === o.cid)),
      { timeoutMs: 10_000, intervalMs: 10, what: `ack for ${o.cid}` },
    );
  }

  close(): Promise<number> {
    if (this.closeCode === null) this.ws.close();
    return this.closed;
  }
}

export function chatEnv(redisUrl: string, replicaId: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    JWT_SECRET,
    ALLOWED_ORIGINS: ORIGIN,
    REPLICA_ID: replicaId,
    SHUTDOWN_DRAIN_MS: '300',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}
