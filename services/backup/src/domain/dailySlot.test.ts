import { describe, expect, it } from 'vitest';
import { evolveBackups, initialBackupsState, type BackupEvent } from './backups.js';
import { dueDailySlot, isTimeZone, latestSlot } from './dailySlot.js';

describe('daily slot', () => {
  it('is today at HH:MM in UTC once passed, else yesterday', () => {
    expect(latestSlot({ at: '03:30', tz: 'UTC' }, new Date('2025-06-10T04:00:00Z')).toISOString()).toBe('2025-06-10T03:30:00.000Z');
    expect(latestSlot({ at: '03:30', tz: 'UTC' }, new Date('2025-06-10T03:29:00Z')).toISOString()).toBe('2025-06-09T03:30:00.000Z');
  });

  it('follows the time zone, including daylight saving time', () => {
    expect(latestSlot({ at: '03:30', tz: 'Europe/Paris' }, new Date('2025-06-10T12:00:00Z')).toISOString()).toBe('2025-06-10T01:30:00.000Z');
    expect(latestSlot({ at: '03:30', tz: 'Europe/Paris' }, new Date('2025-01-10T12:00:00Z')).toISOString()).toBe('2025-01-10T02:30:00.000Z');
    expect(latestSlot({ at: '23:00', tz: 'America/New_York' }, new Date('2025-01-10T12:00:00Z')).toISOString()).toBe('2025-01-10T04:00:00.000Z');
  });

  it('is due once: not before the schedule was set, not after a daily was requested for it', () => {
    const set = { type: 'BackupScheduleSet', data: { clusterId: 'c1', at: '03:00', tz: 'UTC' }, occurredAt: '2025-06-09T12:00:00Z' } as unknown as BackupEvent;
    const s = evolveBackups(initialBackupsState(), set);
    expect(dueDailySlot(s, new Date('2025-06-09T20:00:00Z'))).toBeUndefined();
    expect(dueDailySlot(s, new Date('2025-06-10T03:00:00Z'))?.toISOString()).toBe('2025-06-10T03:00:00.000Z');
    const taken = evolveBackups(s, { type: 'BackupRequested', data: { backupId: 'd1', clusterId: 'c1', kind: 'daily', requestedAt: '2025-06-10T03:00:02Z' } });
    expect(dueDailySlot(taken, new Date('2025-06-10T09:00:00Z'))).toBeUndefined();
    expect(dueDailySlot(taken, new Date('2025-06-12T09:00:00Z'))?.toISOString()).toBe('2025-06-12T03:00:00.000Z');
  });

  it('knows time zones', () => {
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
