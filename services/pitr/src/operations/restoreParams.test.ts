import { ClusterName } from '@pgfleet/contracts';
import { describe, expect, it } from 'vitest';
import { defaultRestoredName, PitrRestoreParams } from './restoreParams.js';

describe('defaultRestoredName: the new cluster when --into is not given', () => {
  it('is NAME-restored-TIME (UTC, to the second), a valid cluster name', () => {
    const name = defaultRestoredName('shop', '2026-11-30T10:15:07+01:00');
    expect(name).toBe('shop-restored-20261130t091507');
    expect(ClusterName.safeParse(name).success).toBe(true);
  });

  it('shortens a long source name to stay within 40 characters', () => {
    const name = defaultRestoredName('a-very-long-cluster-name-for-orders-x', '2026-11-30T09:15:00Z');
    expect(name.length).toBeLessThanOrEqual(40);
    expect(name.endsWith('-restored-20261130t091500')).toBe(true);
    expect(ClusterName.safeParse(name).success).toBe(true);
  });
});

describe('PitrRestoreParams', () => {
  it('is either into a named new cluster or in place', () => {
    const to = '2026-11-30T09:15:00Z';
    expect(PitrRestoreParams.safeParse({ targetTime: to, into: { name: 'shop-fork' }, inPlace: false }).success).toBe(
      true,
    );
    expect(PitrRestoreParams.safeParse({ targetTime: to, inPlace: true }).success).toBe(true);
    expect(PitrRestoreParams.safeParse({ targetTime: to, inPlace: false }).success).toBe(false);
  });
});
