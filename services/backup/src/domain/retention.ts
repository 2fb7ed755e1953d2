import type { Plan } from '@pgfleet/contracts';

export interface DailyBackupRef {
  backupId: string;
  /** ISO 8601 instant the daily backup was requested. */
  requestedAt: string;
}

const DAY = 86_400_000;

/** Days since 1970-01-01 of the Monday starting the ISO week of `t` (UTC). */
function isoWeekStart(t: number): number {
  const day = Math.floor(t / DAY);
  const weekday = (new Date(day * DAY).getUTCDay() + 6) % 7; // Monday = 0
  return day - weekday;
}

const monthIndex = (t: number) => {
  const d = new Date(t);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
};

/**
 * Daily-backup retention (grandfather-father-son, periods in UTC): keep the `days` latest
 * dailies, plus the latest daily of each of the `weeks` most recent ISO weeks and of each of the
 * `months` most recent calendar months (both counting the period of `now`). Returns the ids to
 * expire, oldest first. Pure: the caller passes completed dailies and `now`.
 */
export function dailiesToExpire(
  dailies: readonly DailyBackupRef[],
  now: string,
  retention: Plan['backups']['daily'],
): string[] {
  const sorted = [...dailies].sort((a, b) => Date.parse(b.requestedAt) - Date.parse(a.requestedAt));
  const keep = new Set(sorted.slice(0, retention.days).map((b) => b.backupId));
  const nowT = Date.parse(now);
  const latestPer = (period: (t: number) => number, within: (p: number) => boolean) => {
    const seen = new Set<number>();
    for (const b of sorted) {
      const p = period(Date.parse(b.requestedAt));
      if (!within(p) || seen.has(p)) continue;
      seen.add(p);
      keep.add(b.backupId);
    }
  };
  const thisWeek = isoWeekStart(nowT);
  latestPer(isoWeekStart, (w) => (thisWeek - w) / 7 < retention.weeks);
  const thisMonth = monthIndex(nowT);
  latestPer(monthIndex, (m) => thisMonth - m < retention.months);
  return sorted
    .filter((b) => !keep.has(b.backupId))
    .map((b) => b.backupId)
    .reverse();
}

/**
 * Until when a deleted cluster's backups are kept: as long as its plan keeps a daily backup at
 * most, counted from the delete — `days` days, `weeks` weeks or `months` calendar months (UTC),
 * whichever ends last (Starter 7 days + 4 weeks: 28 days; Business + 12 months: a year).
 */
export function retainedAfterDelete(retention: Plan['backups']['daily'], deletedAt: string): string {
  const t = Date.parse(deletedAt);
  const byDays = t + Math.max(retention.days, 7 * retention.weeks) * DAY;
  const d = new Date(t);
  d.setUTCMonth(d.getUTCMonth() + retention.months);
  return new Date(Math.max(byDays, d.getTime())).toISOString();
}
