import type { PitrState } from '@pgfleet/contracts';

/** When weekly full backups run: the cluster's preferred HH:MM (its daily backup schedule) on a weekday. */
export interface WeeklySchedule {
  at: string;
  tz: string;
}

/** Weekly full backups run on Sundays (0 = Sunday, as cron counts): the quietest day for most applications. */
export const FULL_BACKUP_WEEKDAY = 0;
/** Without a daily backup schedule: Sundays at 02:00 UTC. */
export const DEFAULT_WEEKLY: WeeklySchedule = { at: '02:00', tz: 'UTC' };

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The local calendar fields of instant `t` in `tz`. */
function localFields(t: number, tz: string): { y: number; mo: number; d: number; h: number; mi: number; wd: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    weekday: 'short',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).formatToParts(new Date(t));
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  const wd = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday'));
  return { y: +get('year'), mo: +get('month'), d: +get('day'), h: +get('hour'), mi: +get('minute'), wd };
}

/** The instant that reads HH:MM on the local day (y, mo, d) in `tz` (the later one across a DST change). */
function instantOf(y: number, mo: number, d: number, at: string, tz: string): number {
  const [h, m] = at.split(':').map(Number) as [number, number];
  const wall = Date.UTC(y, mo - 1, d, h, m);
  let guess = wall;
  // Converge on the offset at the target instant (two or three passes settle a DST change).
  for (let i = 0; i < 3; i++) {
    const f = localFields(guess, tz);
    guess += wall - Date.UTC(f.y, f.mo - 1, f.d, f.h, f.mi);
  }
  return guess;
}

/** The weekly slot's instant in the local week that holds `t` (whether before or after `t`). */
function slotOfWeek(t: number, schedule: WeeklySchedule): number {
  const f = localFields(t, schedule.tz);
  const back = (f.wd - FULL_BACKUP_WEEKDAY + 7) % 7;
  // From local noon: a day step never crosses two calendar days whatever DST does.
  const noon = instantOf(f.y, f.mo, f.d, '12:00', schedule.tz) - back * DAY;
  const day = localFields(noon, schedule.tz);
  return instantOf(day.y, day.mo, day.d, schedule.at, schedule.tz);
}

/** The latest weekly slot at or before `now`. */
export function latestWeeklySlot(schedule: WeeklySchedule, now: Date): Date {
  const t = now.getTime();
  const slot = slotOfWeek(t, schedule);
  return new Date(slot <= t ? slot : slotOfWeek(t - 7 * DAY, schedule));
}

/** The first weekly slot after `now`. */
export function nextWeeklySlot(schedule: WeeklySchedule, now: Date): Date {
  const t = now.getTime();
  const slot = slotOfWeek(t, schedule);
  return new Date(slot > t ? slot : slotOfWeek(t + 7 * DAY, schedule));
}

/**
 * The weekly slot due at `now` and not yet taken: the latest slot, unless archiving began after it
 * or a full backup (of any kind, not failed) was requested at or after it. Covers a run missed
 * while the platform was down: at start it is still the latest slot. Pure.
 */
export function dueWeeklySlot(state: PitrState, schedule: WeeklySchedule, now: Date): Date | undefined {
  if (state.stanza === undefined || state.retainedUntil !== undefined) return undefined;
  const slot = latestWeeklySlot(schedule, now).getTime();
  if (state.enabledAt !== undefined && Date.parse(state.enabledAt) > slot) return undefined;
  const taken = state.backups.some((b) => b.status !== 'failed' && Date.parse(b.requestedAt) >= slot);
  return taken ? undefined : new Date(slot);
}
