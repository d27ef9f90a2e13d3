import { describe, expect, it } from 'vitest';
import { ipBucket } from './ip-limits.js';

describe('ipBucket (the address a per-IP budget is kept for)', () => {
  it('keeps IPv4 addresses, also when v4-mapped', () => {
    expect(ipBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(ipBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(ipBucket('::FFFF:127.0.0.1')).toBe('127.0.0.1');
  });

  it('counts IPv6 addresses per /64, whatever the spelling', () => {
    const bucket = '2001:db8:85a3:12::/64';
    for (const ip of [
      '2001:db8:85a3:12::1',
      '2001:0db8:85a3:0012:ffff:ffff:ffff:ffff',
      '2001:DB8:85A3:12:0:0:0:2',
      '2001:db8:85a3:12:abcd::1.2.3.4',
      '2001:db8:85a3:12::9%eth0',
    ]) {
      expect(ipBucket(ip), ip).toBe(bucket);
    }
    expect(ipBucket('2001:db8:85a3:13::1')).toBe('2001:db8:85a3:13::/64');
    expect(ipBucket('::1')).toBe('0:0:0:0::/64');
    expect(ipBucket('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(ipBucket('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
  });

  it('leaves anything that is not an address as it is', () => {
    expect(ipBucket('unknown')).toBe('unknown');
  });
});
