// The hold-then-merge-by-id gate shared by join (connection.ts) and subscriber recovery (fanout.ts).
import { describe, expect, it } from 'vitest';
import { LiveGate, type GatedFrame } from './live-gate.js';

const frame = (id: string | undefined, tag = id ?? 'presence'): GatedFrame<string> => ({ data: Buffer.from(tag), id, meta: tag });
const tags = (frames: GatedFrame<string>[]) => frames.map((f) => f.meta);

describe('LiveGate', () => {
  it('admits everything while not holding', () => {
    const gate = new LiveGate<string>();
    expect(gate.holding).toBe(false);
    expect(gate.admit(frame('5-0'))).toBe(true);
    expect(gate.admit(frame('1-0'))).toBe(true); // no cutoff: no comparison
    expect(gate.admit(frame(undefined))).toBe(true);
  });

  it('holds live frames, and release(cutoff) hands back those the log read did not deliver, in order; frames without an id always pass', () => {
    const gate = new LiveGate<string>();
    gate.hold();
    for (const f of [frame('9-0'), frame(undefined, 'typing'), frame('10-0'), frame('10-1'), frame(undefined, 'presence'), frame('11-0')]) {
      expect(gate.admit(f)).toBe(false);
    }
    expect(gate.heldCount).toBe(6);
    gate.hold(); // a second hold keeps what is held
    expect(gate.heldCount).toBe(6);
    // the log read delivered up to 10-0 (ids compare numerically: 9-0 < 10-0)
    expect(tags(gate.release('10-0'))).toEqual(['typing', '10-1', 'presence', '11-0']);
    expect(gate.holding).toBe(false);
    expect(gate.heldCount).toBe(0);
  });

  it('release(undefined): the read delivered nothing that can overlap, every held frame passes', () => {
    const gate = new LiveGate<string>();
    gate.hold();
    gate.admit(frame('3-0'));
    gate.admit(frame(undefined));
    gate.admit(frame('4-0'));
    expect(tags(gate.release(undefined))).toEqual(['3-0', 'presence', '4-0']);
    // the cutoff is the last id handed back: a late copy of it is dropped
    expect(gate.admit(frame('4-0'))).toBe(false);
    expect(gate.admit(frame('4-1'))).toBe(true);
  });

  it('after release, frames still in flight at or below the cutoff are dropped; the first newer one clears it', () => {
    const gate = new LiveGate<string>();
    gate.hold();
    expect(gate.release('20-5')).toEqual([]);
    // published before the log read, delivered after the release
    expect(gate.admit(frame('20-4'))).toBe(false);
    expect(gate.admit(frame('20-5'))).toBe(false);
    expect(gate.admit(frame(undefined))).toBe(true); // presence/typing are never compared
    expect(gate.admit(frame('20-6'))).toBe(true);
    // cleared: later frames are not compared any more (an out-of-order id would pass)
    expect(gate.admit(frame('1-0'))).toBe(true);
  });

  it('the cutoff after release is the newest id handed back, not the read cutoff', () => {
    const gate = new LiveGate<string>();
    gate.hold();
    gate.admit(frame('5-0'));
    gate.admit(frame('7-0'));
    expect(tags(gate.release('6-0'))).toEqual(['7-0']);
    expect(gate.admit(frame('7-0'))).toBe(false);
    expect(gate.admit(frame('6-9'))).toBe(false);
    expect(gate.admit(frame('8-0'))).toBe(true);
  });

  it('drop() stops holding and forgets the held frames and the cutoff', () => {
    const gate = new LiveGate<string>();
    gate.hold();
    gate.admit(frame('1-0'));
    gate.drop();
    expect(gate.holding).toBe(false);
    expect(gate.heldCount).toBe(0);
    expect(gate.release(undefined)).toEqual([]);
    const cut = new LiveGate<string>();
    cut.hold();
    cut.release('9-0');
    cut.drop();
    expect(cut.admit(frame('1-0'))).toBe(true);
  });
});
