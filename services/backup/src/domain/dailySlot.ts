import type { BackupSchedule, BackupsState } from './backups.js';

const MINUTE = 60_000;

/** Offset of `tz` from UTC at instant `t`, in ms (e.g. +3_600_000 for Europe/Paris in winter). */
function tzOffset(t: number, tz: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(t));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(t / 1000) * 1000;
}

/** True when `tz` is a time zone this runtime knows (IANA name or UTC). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The instant of HH:MM on the local calendar day of `t` in `tz`. */
function localTimeOn(t: number, at: string, tz: string): number {
  const local = new Date(t + tzOffset(t, tz));
  const [h, m] = at.split(':').map(Number) as [number, number];
  const guess = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate(), h, m);
  // Two passes settle the offset around a DST change.
  const first = guess - tzOffset(guess, tz);
  return guess - tzOffset(first, tz);
}

/** The latest scheduled instant at or before `now` (today's HH:MM in tz, else yesterday's). */
export function latestSlot(schedule: Pick<BackupSchedule, 'at' | 'tz'>, now: Date): Date {
  const t = now.getTime();
  const today = localTimeOn(t, schedule.at, schedule.tz);
  if (today <= t) return new Date(today);
  // Noon of the previous local day: safely inside it whatever DST does.
  const yesterdayNoon = localTimeOn(t, '12:00', schedule.tz) - 24 * 60 * MINUTE;
  return new Date(localTimeOn(yesterdayNoon, schedule.at, schedule.tz));
}

/**
 * The daily slot that is due at `now` and not yet taken: the latest scheduled instant, unless it
 * precedes the schedule itself or a daily backup was already requested at or after it. Covers a
 * run missed while the platform was down (it is still the latest slot at start). Pure.
 */
export function dueDailySlot(state: BackupsState, now: Date): Date | undefined {
  if (!state.schedule) return undefined;
  const slot = latestSlot(state.schedule, now);
  if (state.schedule.setAt && Date.parse(state.schedule.setAt) > slot.getTime()) return undefined;
  const taken = state.backups.some(
    (b) => b.kind === 'daily' && b.requestedAt !== undefined && Date.parse(b.requestedAt) >= slot.getTime(),
  );
  return taken ? undefined : slot;
}
