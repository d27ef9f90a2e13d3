// The outbox's rules without a server (fake timers, a scripted link): what goes out when, what is
// re-sent with the same cid, what settles a promise. The end-to-end behaviour against real
// replicas is in client.e2e.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ERROR_CODES, Outbox, OutboxError, RETRYABLE_CODES, type ChangeFrame, type ErrorCode } from '../src/index.js';

function link() {
  const sent: ChangeFrame[] = [];
  const rejoined: string[] = [];
  const l = {
    live: true,
    joined: new Set<string>(['r']),
    sent,
    rejoined,
    canSend: (room: string) => l.live && l.joined.has(room),
    send: (f: ChangeFrame) => (l.live ? (sent.push(f), true) : false),
    rejoin: (room: string) => void rejoined.push(room),
  };
  return l;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Outbox', () => {
  it('sends at once when the room is live, resolves with the ack, and forgets the entry', async () => {
    const l = link();
    const o = new Outbox(l);
    const p = o.submit({ type: 'send', room: 'r', text: 'hi' });
    expect(l.sent).toHaveLength(1);
    const cid = l.sent[0]!.cid;
    expect(cid).toMatch(/^[0-9a-f]{32}$/);
    expect(o.handle({ type: 'ack', cid, id: '5-0', ts: 5 })).toBe(true);
    await expect(p).resolves.toMatchObject({ id: '5-0' });
    expect(o.size).toBe(0);
  });

  it('holds a send until its room is joined, and re-sends what was in flight after a reconnect with the same cid', () => {
    const l = link();
    const o = new Outbox(l);
    void o.submit({ type: 'send', room: 'later', text: 'a', cid: 'c-1' });
    expect(l.sent).toHaveLength(0);
    l.joined.add('later');
    o.flush('later');
    expect(l.sent.map((f) => f.cid)).toEqual(['c-1']);
    // The socket died with c-1 in flight: maybe accepted, maybe not.
    o.requeueInflight();
    o.flush('later');
    expect(l.sent.map((f) => f.cid)).toEqual(['c-1', 'c-1']);
    expect(o.resends).toBe(1);
  });

  it('retries `overloaded` no sooner than retryAfterMs, then settles on the ack', async () => {
    const l = link();
    const o = new Outbox(l);
    const p = o.submit({ type: 'send', room: 'r', text: 'x', cid: 'c-2' });
    o.handle({ type: 'error', code: 'overloaded', message: 'busy', ref: 'c-2', retryAfterMs: 3_000 });
    vi.advanceTimersByTime(2_999);
    expect(l.sent).toHaveLength(1);
    vi.advanceTimersByTime(2);
    expect(l.sent).toHaveLength(2);
    o.handle({ type: 'ack', cid: 'c-2', id: '9-0', ts: 9, duplicate: true });
    await expect(p).resolves.toMatchObject({ id: '9-0', duplicate: true });
  });

  it('waits for the next joined after `not_joined`, and asks the connection to rejoin', () => {
    const l = link();
    const o = new Outbox(l);
    void o.submit({ type: 'edit', room: 'r', id: '1-0', text: 'new', cid: 'c-3' });
    o.handle({ type: 'error', code: 'not_joined', message: 'join first', ref: 'c-3' });
    expect(l.rejoined).toEqual(['r']);
    o.flush('r');
    expect(l.sent.map((f) => f.cid)).toEqual(['c-3', 'c-3']);
  });

  it('rejects for good on a refusal that no retry can fix, with the server code', async () => {
    const l = link();
    const o = new Outbox(l);
    const p = o.submit({ type: 'send', room: 'r', text: 'x', cid: 'c-4' });
    o.handle({ type: 'error', code: 'forbidden', message: 'not yours', ref: 'c-4' });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboxError);
    expect((err as OutboxError).code).toBe('forbidden');
    expect(o.size).toBe(0);
  });

  it('re-sends what a live socket left unanswered past ackTimeoutMs', () => {
    const l = link();
    const o = new Outbox(l, { ackTimeoutMs: 1_000 });
    void o.submit({ type: 'send', room: 'r', text: 'x', cid: 'c-5' });
    vi.advanceTimersByTime(1_500);
    expect(l.sent.map((f) => f.cid)).toEqual(['c-5', 'c-5']);
  });

  it('the same cid submitted twice is one entry (one promise)', () => {
    const l = link();
    const o = new Outbox(l);
    const a = o.submit({ type: 'send', room: 'r', text: 'x', cid: 'c-6' });
    const b = o.submit({ type: 'send', room: 'r', text: 'x', cid: 'c-6' });
    expect(a).toBe(b);
    expect(l.sent).toHaveLength(1);
  });

  it('stop() rejects what is pending', async () => {
    const o = new Outbox(link());
    const p = o.submit({ type: 'send', room: 'r', text: 'x' });
    o.stop();
    await expect(p).rejects.toMatchObject({ code: 'stopped' });
  });
});

describe('protocol constants', () => {
  it('ERROR_CODES lists exactly the ErrorCode union, and retryable codes are among them', () => {
    // A Record over the union: adding a code to the type without listing it fails the type-check.
    const every: Record<ErrorCode, true> = {
      bad_request: true, invalid_room: true, too_long: true, not_joined: true, not_found: true, limit_reached: true,
      rate_limited: true, forbidden: true, muted: true, overloaded: true, bad_attachment: true, internal: true,
    };
    expect([...ERROR_CODES].sort()).toEqual(Object.keys(every).sort());
    for (const c of RETRYABLE_CODES) expect(ERROR_CODES).toContain(c);
  });
});
