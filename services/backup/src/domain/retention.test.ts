import { describe, expect, it } from 'vitest';
import { dailiesToExpire, retainedAfterDelete, type DailyBackupRef } from './retention.js';

/** One daily per day at 03:00 UTC from `from` for `n` days. */
function dailies(from: string, n: number): DailyBackupRef[] {
  return Array.from({ length: n }, (_, i) => {
    const t = new Date(Date.parse(`${from}T03:00:00Z`) + i * 86_400_000).toISOString();
    return { backupId: `d-${t.slice(0, 10)}`, requestedAt: t };
  });
}

describe('daily retention', () => {
  it('keeps the N latest dailies when no weeks or months are kept', () => {
    const all = dailies('2025-03-01', 10);
    expect(dailiesToExpire(all, '2025-03-10T04:00:00Z', { days: 7, weeks: 0, months: 0 })).toEqual([
      'd-2025-03-01',
      'd-2025-03-02',
      'd-2025-03-03',
    ]);
  });

  it('keeps one per ISO week (the latest) for W weeks on top of the N latest', () => {
    // 2025-03-03 is a Monday; 28 days = 4 full weeks Mon 03-03 .. Sun 03-30.
    const all = dailies('2025-03-03', 28);
    const expired = dailiesToExpire(all, '2025-03-30T04:00:00Z', { days: 7, weeks: 4, months: 0 });
    const kept = all.map((d) => d.backupId).filter((id) => !expired.includes(id));
    expect(kept).toEqual([
      'd-2025-03-09',
      'd-2025-03-16',
      'd-2025-03-23',
      'd-2025-03-24',
      'd-2025-03-25',
      'd-2025-03-26',
      'd-2025-03-27',
      'd-2025-03-28',
      'd-2025-03-29',
      'd-2025-03-30',
    ]);
  });

  it('keeps one per month (the latest) for M months', () => {
    const all = dailies('2025-01-01', 90); // Jan 1 .. Mar 31
    const expired = dailiesToExpire(all, '2025-03-31T04:00:00Z', { days: 2, weeks: 0, months: 2 });
    const kept = all.map((d) => d.backupId).filter((id) => !expired.includes(id));
    expect(kept).toEqual(['d-2025-02-28', 'd-2025-03-30', 'd-2025-03-31']);
  });

  it('expires nothing while under the limits, and returns ids oldest first', () => {
    expect(
      dailiesToExpire(dailies('2025-03-01', 3), '2025-03-03T04:00:00Z', { days: 7, weeks: 4, months: 12 }),
    ).toEqual([]);
    const all = dailies('2025-03-01', 5).reverse();
    expect(dailiesToExpire(all, '2025-03-05T04:00:00Z', { days: 2, weeks: 0, months: 0 })).toEqual([
      'd-2025-03-01',
      'd-2025-03-02',
      'd-2025-03-03',
    ]);
  });
});

describe('retention after a delete', () => {
  it('is the longest a plan keeps a daily backup: days, weeks or calendar months, counted from the delete', () => {
    const at = '2030-01-31T10:00:00.000Z';
    expect(retainedAfterDelete({ days: 7, weeks: 4, months: 0 }, at)).toBe('2030-02-28T10:00:00.000Z');
    expect(retainedAfterDelete({ days: 7, weeks: 8, months: 12 }, at)).toBe('2031-01-31T10:00:00.000Z');
    expect(retainedAfterDelete({ days: 30, weeks: 0, months: 0 }, at)).toBe('2030-03-02T10:00:00.000Z');
  });
});
