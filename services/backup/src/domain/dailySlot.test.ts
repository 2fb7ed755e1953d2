import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@pgfleet/contracts';
import { evolveBackups, initialBackupsState, type BackupEvent } from './backups.js';
import { dueDailySlot, isTimeZone, latestSlot } from './dailySlot.js';

const slot = (at: string, tz: string, now: string) => latestSlot({ at, tz }, new Date(now)).toISOString();

/** BackupScheduleSet as stored: the slot counts from its `occurredAt`. */
const scheduleSet: EventEnvelope & BackupEvent = {
  id: '01970000-0000-7000-8000-000000000001',
  streamId: 'backups-c1',
  streamVersion: 1,
  globalPosition: '1',
  occurredAt: '2025-06-09T12:00:00Z',
  schemaVersion: 1,
  correlationId: 'c1',
  causationId: null,
  actor: { kind: 'user', id: 'tester' },
  type: 'BackupScheduleSet',
  data: { clusterId: 'c1', at: '03:00', tz: 'UTC' },
};

describe('daily slot', () => {
  it('is today at HH:MM in UTC once passed, else yesterday', () => {
    expect(slot('03:30', 'UTC', '2025-06-10T04:00:00Z')).toBe('2025-06-10T03:30:00.000Z');
    expect(slot('03:30', 'UTC', '2025-06-10T03:29:00Z')).toBe('2025-06-09T03:30:00.000Z');
  });

  it('follows the time zone, including daylight saving time', () => {
    expect(slot('03:30', 'Europe/Paris', '2025-06-10T12:00:00Z')).toBe('2025-06-10T01:30:00.000Z');
    expect(slot('03:30', 'Europe/Paris', '2025-01-10T12:00:00Z')).toBe('2025-01-10T02:30:00.000Z');
    expect(slot('23:00', 'America/New_York', '2025-01-10T12:00:00Z')).toBe('2025-01-10T04:00:00.000Z');
  });

  it('is due once: not before the schedule was set, not after a daily was requested for it', () => {
    const s = evolveBackups(initialBackupsState(), scheduleSet);
    expect(dueDailySlot(s, new Date('2025-06-09T20:00:00Z'))).toBeUndefined();
    expect(dueDailySlot(s, new Date('2025-06-10T03:00:00Z'))?.toISOString()).toBe('2025-06-10T03:00:00.000Z');
    const daily = { backupId: 'd1', clusterId: 'c1', kind: 'daily', requestedAt: '2025-06-10T03:00:02Z' } as const;
    const taken = evolveBackups(s, { type: 'BackupRequested', data: daily });
    expect(dueDailySlot(taken, new Date('2025-06-10T09:00:00Z'))).toBeUndefined();
    expect(dueDailySlot(taken, new Date('2025-06-12T09:00:00Z'))?.toISOString()).toBe('2025-06-12T03:00:00.000Z');
  });

  it('knows time zones', () => {
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
