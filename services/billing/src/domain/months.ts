import type { BillingMonth } from '@pgfleet/contracts';

/** A UTC calendar month as whole seconds since the epoch: `[start, end)`. */
export interface MonthBounds {
  month: BillingMonth;
  start: number;
  end: number;
}

/** Whole seconds since the epoch of an ISO instant, floored: billing counts whole seconds. */
export const toSeconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

/** The ISO instant of a whole second. */
export const toIso = (seconds: number): string => new Date(seconds * 1000).toISOString();

/** The UTC month an instant (whole seconds) falls in. */
export function monthOf(seconds: number): BillingMonth {
  const d = new Date(seconds * 1000);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** Start and end (exclusive) of a month: 28 to 31 days, so its seconds differ from month to month. */
export function monthBounds(month: BillingMonth): MonthBounds {
  const [year, m] = month.split('-').map(Number) as [number, number];
  return { month, start: Date.UTC(year, m - 1, 1) / 1000, end: Date.UTC(year, m, 1) / 1000 };
}

/** The month after `month`. */
export const nextMonth = (month: BillingMonth): BillingMonth => monthOf(monthBounds(month).end);

/** The month before `month`. */
export const previousMonth = (month: BillingMonth): BillingMonth => monthOf(monthBounds(month).start - 1);

/** Every month from `first` to `last`, both included (none when `last` is before `first`). */
export function monthsBetween(first: BillingMonth, last: BillingMonth): BillingMonth[] {
  const months: BillingMonth[] = [];
  for (let m = first; m <= last; m = nextMonth(m)) months.push(m);
  return months;
}
