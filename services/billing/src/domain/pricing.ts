import { findPlan, type BillingMonth, type InvoiceLine, type Plan } from '@pgfleet/contracts';
import { fraction, roundHalfUp } from './money.js';
import { monthBounds, toIso } from './months.js';
import { type ClusterTimeline, valueAt } from './usage.js';

/** An invoice before its hash: what an account owes for a month (or for the running month so far). */
export interface Invoice {
  accountId: string;
  month: BillingMonth;
  currency: 'EUR';
  lines: InvoiceLine[];
  totalCents: number;
}

const GIB = 2 ** 30;
const SECONDS_PER_HOUR = 3600;
const MILLICENTS_PER_CENT = 1000;

function planOf(id: string): Plan {
  const plan = findPlan(id);
  if (!plan) throw new Error(`plan ${id} is not in the plan catalog: its price is unknown`);
  return plan;
}

/** A stretch of time with one plan and one disk overage. */
interface Segment {
  from: number;
  to: number;
  plan: string;
  overBytes: number;
}

/** The cluster's billed time within `[from, to)`, cut wherever its plan or its disk overage changes. */
function segments(t: ClusterTimeline, from: number, to: number): Segment[] {
  const start = Math.max(from, t.start ?? Number.POSITIVE_INFINITY);
  const end = Math.min(to, t.end ?? Number.POSITIVE_INFINITY);
  if (!(start < end)) return [];
  const cuts = new Set([start, end]);
  for (const { at } of [...t.plans, ...t.disk]) if (at > start && at < end) cuts.add(at);
  const points = [...cuts].sort((a, b) => a - b);
  const out: Segment[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const at = points[i]!;
    const plan = valueAt(t.plans, at)?.plan ?? t.plans[0]!.plan;
    const overBytes = valueAt(t.disk, at)?.overBytes ?? 0;
    const last = out.at(-1);
    if (last && last.plan === plan && last.overBytes === overBytes) last.to = points[i + 1]!;
    else out.push({ from: at, to: points[i + 1]!, plan, overBytes });
  }
  return out;
}

/** Join consecutive segments that agree on `same` (a plan line spans disk changes, and so on). */
function runs(parts: Segment[], same: (a: Segment, b: Segment) => boolean): Segment[] {
  const out: Segment[] = [];
  for (const s of parts) {
    const last = out.at(-1);
    if (last && last.to === s.from && same(last, s)) last.to = s.to;
    else out.push({ ...s });
  }
  return out;
}

/** A plan line: exact amount = monthly price × seconds / seconds in that month, rounded half up once. */
function planLine(t: ClusterTimeline, s: Segment, secondsInMonth: number): InvoiceLine {
  const seconds = s.to - s.from;
  const monthlyPriceCents = planOf(s.plan).monthlyPriceCents;
  return {
    ...{ clusterId: t.clusterId, name: t.name, kind: 'plan', plan: s.plan, from: toIso(s.from), to: toIso(s.to) },
    ...{ seconds, monthlyPriceCents, secondsInMonth },
    amountCents: roundHalfUp(fraction([monthlyPriceCents, seconds], [secondsInMonth])),
  };
}

/** A disk line: exact amount = bytes over / 2^30 × seconds / 3600 × rate (millicents) / 1000, rounded half up once. */
function diskLine(t: ClusterTimeline, s: Segment): InvoiceLine {
  const seconds = s.to - s.from;
  const millicentsPerGbHour = planOf(s.plan).diskOverQuotaMillicentsPerGbHour;
  const exact = fraction([s.overBytes, seconds, millicentsPerGbHour], [GIB, SECONDS_PER_HOUR, MILLICENTS_PER_CENT]);
  return {
    ...{ clusterId: t.clusterId, name: t.name, kind: 'disk-over-quota', plan: s.plan },
    ...{ from: toIso(s.from), to: toIso(s.to), seconds, overBytes: s.overBytes, millicentsPerGbHour },
    amountCents: roundHalfUp(exact),
  };
}

/**
 * The invoice of `accountId` for `month`, a pure function of its clusters' timelines: per cluster,
 * one line per plan period and one per period over the disk quota, a period split at the month's
 * bounds (a month has 28 to 31 days, so a second costs more in February). With `until` (whole
 * seconds), only the time before it counts: the running month so far.
 */
export function invoiceFor(
  timelines: Iterable<ClusterTimeline>,
  accountId: string,
  month: BillingMonth,
  until?: number,
): Invoice {
  const bounds = monthBounds(month);
  const secondsInMonth = bounds.end - bounds.start;
  const to = Math.min(bounds.end, until ?? bounds.end);
  const lines: InvoiceLine[] = [];
  for (const t of timelines) {
    if (t.accountId !== accountId) continue;
    const parts = segments(t, bounds.start, to);
    for (const s of runs(parts, (a, b) => a.plan === b.plan)) lines.push(planLine(t, s, secondsInMonth));
    const over = parts.filter((s) => s.overBytes > 0);
    for (const s of runs(over, (a, b) => a.plan === b.plan && a.overBytes === b.overBytes)) lines.push(diskLine(t, s));
  }
  lines.sort(
    (a, b) => a.from.localeCompare(b.from) || a.clusterId.localeCompare(b.clusterId) || a.kind.localeCompare(b.kind),
  );
  const totalCents = lines.reduce((sum, l) => sum + l.amountCents, 0);
  return { accountId, month, currency: 'EUR', lines, totalCents };
}
