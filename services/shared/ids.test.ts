import { describe, expect, it } from 'vitest';
import { compareIds, isMessageId } from './ids.js';

describe('message ids', () => {
  it('accept parts up to 2^53 - 1 and refuse larger ones (the stores and clients hold them as numbers)', () => {
    expect(isMessageId('1700000000000-0')).toBe(true);
    expect(isMessageId(`${Number.MAX_SAFE_INTEGER}-${Number.MAX_SAFE_INTEGER}`)).toBe(true);
    expect(isMessageId('1700000000000-9007199254740992')).toBe(false);
    expect(isMessageId('9007199254740992-0')).toBe(false);
    expect(isMessageId('1700000000000-1234567890123456789')).toBe(false); // 19 digits: once a 500
    expect(isMessageId('1-')).toBe(false);
    expect(isMessageId(5)).toBe(false);
  });

  it('compare numerically, not as text', () => {
    expect(compareIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareIds('10-10', '10-10')).toBe(0);
  });
});
