import { foldPitr, type PitrEvent } from '@pgfleet/contracts';
import { describe, expect, it } from 'vitest';
import { dueWeeklySlot, latestWeeklySlot, nextWeeklySlot } from './weeklySlot.js';

const utc = { at: '03:30', tz: 'UTC' };
const iso = (d: Date | undefined) => d?.toISOString();

describe('weekly full backup slot (Sundays at the preferred HH:MM)', () => {
  it('is the last Sunday at HH:MM, and the next one after it', () => {
    // 2026-11-30 is a Monday; 2026-11-29 a Sunday.
    expect(iso(latestWeeklySlot(utc, new Date('2026-11-30T12:00:00Z')))).toBe('2026-11-29T03:30:00.000Z');
    expect(iso(latestWeeklySlot(utc, new Date('2026-11-29T03:29:00Z')))).toBe('2026-11-22T03:30:00.000Z');
    expect(iso(nextWeeklySlot(utc, new Date('2026-11-30T12:00:00Z')))).toBe('2026-12-06T03:30:00.000Z');
    expect(iso(nextWeeklySlot(utc, new Date('2026-11-29T03:29:00Z')))).toBe('2026-11-29T03:30:00.000Z');
  });

  it('follows the time zone, across daylight saving time', () => {
    const paris = { at: '02:30', tz: 'Europe/Paris' };
    expect(iso(latestWeeklySlot(paris, new Date('2026-07-01T00:00:00Z')))).toBe('2026-06-28T00:30:00.000Z');
    expect(iso(latestWeeklySlot(paris, new Date('2026-12-01T00:00:00Z')))).toBe('2026-11-29T01:30:00.000Z');
  });

  it('is due once after archiving began, also when the run was missed while down', () => {
    const enabled = {
      type: 'ContinuousBackupEnabled',
      occurredAt: '2026-11-20T00:00:00Z',
      data: { clusterId: 'c1', stanza: 'c1', node: 'node1' },
    } as PitrEvent;
    const state = foldPitr([enabled]);
    const now = new Date('2026-11-30T12:00:00Z');
    expect(iso(dueWeeklySlot(state, utc, now))).toBe('2026-11-29T03:30:00.000Z');
    const taken: PitrEvent = {
      type: 'PitrBackupRequested',
      data: { backupId: 'w1', clusterId: 'c1', kind: 'weekly', requestedAt: '2026-11-29T03:30:00.000Z' },
    };
    expect(dueWeeklySlot(foldPitr([enabled, taken]), utc, now)).toBeUndefined();
    expect(dueWeeklySlot(foldPitr([]), utc, now)).toBeUndefined();
  });
});
