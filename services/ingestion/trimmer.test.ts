import { describe, expect, it } from 'vitest';
import { parseGroups, successorId, trimPoint } from './trimmer.js';

describe('trimPoint', () => {
  it('keeps the oldest pending entry of a group', () => {
    expect(trimPoint([{ name: 'g', pending: 3, lastDeliveredId: '90-0', lag: 0, oldestPendingId: '10-5' }])).toBe('10-5');
  });

  it('trims everything delivered when nothing is pending', () => {
    expect(trimPoint([{ name: 'g', pending: 0, lastDeliveredId: '90-7', lag: 0 }])).toBe('90-8');
  });

  it('takes the group that needs the oldest entry, comparing ids numerically', () => {
    const point = trimPoint([
      { name: 'fast', pending: 0, lastDeliveredId: '100-0', lag: 0 },
      { name: 'slow', pending: 0, lastDeliveredId: '9-3', lag: 5 },
      { name: 'busy', pending: 1, lastDeliveredId: '100-0', lag: 0, oldestPendingId: '10-0' },
    ]);
    expect(point).toBe('9-4');
  });

  it('trims nothing on a stream without a group', () => {
    expect(trimPoint([])).toBeNull();
  });
});

describe('successorId / parseGroups', () => {
  it('increments the sequence without losing precision', () => {
    expect(successorId('1700000000000-9007199254740993')).toBe('1700000000000-9007199254740994');
    expect(successorId('1700000000000-18446744073709551615')).toBe('1700000000001-0');
    expect(successorId('0-0')).toBe('0-1');
  });

  it('reads XINFO GROUPS replies', () => {
    const reply = [['name', 'ingestion', 'consumers', 2, 'pending', 4, 'last-delivered-id', '5-1', 'entries-read', 9, 'lag', null]];
    expect(parseGroups(reply)).toEqual([{ name: 'ingestion', pending: 4, lastDeliveredId: '5-1', lag: null }]);
  });
});
