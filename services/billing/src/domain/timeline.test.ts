import { describe, expect, it } from 'vitest';
import { meteredEventOf, type RecordedEvent } from './metering.js';
import { invoiceFor } from './pricing.js';
import { foldTimelines } from './usage.js';

/**
 * The scripted timeline of the billing issue, priced by hand. November 2026 has 30 days:
 * 30 × 86 400 = 2 592 000 seconds. Prices (contracts/src/plans.ts): starter-512 1 500 cents a month,
 * business-1024 9 000 cents a month and 50 millicents per GiB-hour over its disk quota.
 */
const GiB = 2 ** 30;
const event = (occurredAt: string, type: string, data: object, streamId = 'cluster-c1'): RecordedEvent => ({
  type,
  streamId,
  occurredAt,
  data,
});
const disk = { clusterId: 'c1', limit: 20 * GiB };
const requested = { clusterId: 'c1', name: 'shop-db', accountId: 'default', plan: 'starter-512', version: 15 };
const ready = { leader: 'node1', host: '127.0.0.1', port: 5432, database: 'app', user: 'app' };

const history: RecordedEvent[] = [
  // Created on day 3: asked at 09:59:20, ready (billed from) 10:00:00.
  event('2026-11-03T09:59:20.000Z', 'ClusterRequested', requested),
  event('2026-11-03T10:00:00.412Z', 'ClusterReady', ready),
  // Plan change to Business on day 10 at 12:00:30.
  event('2026-11-10T12:00:30.000Z', 'ClusterPlanChanged', { from: 'starter-512', to: 'business-1024' }),
  // 26 GiB of data on a plan with 20 GiB: 6 GiB over the quota for 5 hours, on day 15 from 06:00 to 11:00.
  event('2026-11-15T06:00:00.000Z', 'QuotaExceeded', { kind: 'disk', ...disk, used: 26 * GiB }, 'disk-c1'),
  event('2026-11-15T11:00:00.000Z', 'DiskUsageBackUnderQuota', { ...disk, used: 19 * GiB }, 'disk-c1'),
  // Deleted on day 20 at 08:15.
  event('2026-11-20T08:14:02.000Z', 'ClusterDeletionRequested', {}),
  event('2026-11-20T08:15:00.000Z', 'ClusterDeleted', {}),
];

const invoiceOf = (events: RecordedEvent[], month: string, until?: number) =>
  invoiceFor(foldTimelines(events.flatMap((e) => meteredEventOf(e) ?? [])).values(), 'default', month, until);

describe('the scripted timeline of November 2026', () => {
  it('gives lines equal to the hand-computed amounts, each rounded half up to the cent once', () => {
    const invoice = invoiceOf(history, '2026-11');
    expect(invoice.lines.map((l) => [l.kind, l.plan, l.from, l.to, l.seconds, l.amountCents])).toEqual([
      // Starter from 3 Nov 10:00:00 to 10 Nov 12:00:30: 7 d 2 h 0 min 30 s
      //   = 7 × 86 400 + 2 × 3 600 + 30 = 612 030 s.
      //   1 500 × 612 030 / 2 592 000 = 918 045 000 / 2 592 000 = 354.184… cents -> 354.
      ['plan', 'starter-512', '2026-11-03T10:00:00.000Z', '2026-11-10T12:00:30.000Z', 612_030, 354],
      // Business from 10 Nov 12:00:30 to 20 Nov 08:15:00: 10 days less 3 h 45 min 30 s
      //   = 864 000 − 13 530 = 850 470 s.
      //   9 000 × 850 470 / 2 592 000 = 7 654 230 000 / 2 592 000 = 2 953.0208… cents -> 2 953.
      ['plan', 'business-1024', '2026-11-10T12:00:30.000Z', '2026-11-20T08:15:00.000Z', 850_470, 2953],
      // Disk: 26 − 20 = 6 GiB over for 5 h (18 000 s) at 50 millicents per GiB-hour
      //   = 6 × 5 × 50 = 1 500 millicents = 1.5 cents -> 2 (half up).
      ['disk-over-quota', 'business-1024', '2026-11-15T06:00:00.000Z', '2026-11-15T11:00:00.000Z', 18_000, 2],
    ]);
    // 354 + 2 953 + 2 = 3 309 cents: the sum of the rounded lines.
    expect(invoice.totalCents).toBe(3309);
    expect(invoice.lines[2]).toMatchObject({ overBytes: 6 * GiB, millicentsPerGbHour: 50 });
    expect(invoice.lines[0]).toMatchObject({ monthlyPriceCents: 1500, secondsInMonth: 2_592_000 });
  });

  it('shows the running month so far: up to 10 Nov 00:00, 6 d 14 h of Starter', () => {
    // 6 × 86 400 + 14 × 3 600 = 568 800 s; 1 500 × 568 800 / 2 592 000 = 329.166… -> 329.
    const until = Date.parse('2026-11-10T00:00:00Z') / 1000;
    const usage = invoiceOf(history, '2026-11', until);
    expect(usage.lines.map((l) => [l.plan, l.seconds, l.amountCents])).toEqual([['starter-512', 568_800, 329]]);
  });

  it('bills nothing in the months before and after', () => {
    expect(invoiceOf(history, '2026-10')).toMatchObject({ lines: [], totalCents: 0 });
    expect(invoiceOf(history, '2026-12')).toMatchObject({ lines: [], totalCents: 0 });
  });
});

describe('months of different lengths', () => {
  const created = (at: string, plan = 'starter-512') => event(at, 'ClusterRequested', { ...requested, plan });

  it('splits a period across a month boundary and prices each second by its own month', () => {
    const events = [
      created('2027-01-31T11:59:00Z'),
      event('2027-01-31T12:00:00Z', 'ClusterReady', ready),
      event('2027-02-01T12:00:00Z', 'ClusterDeleted', {}),
    ];
    // January (31 days, 2 678 400 s): 43 200 s -> 1 500 × 43 200 / 2 678 400 = 24.19… -> 24.
    expect(invoiceOf(events, '2027-01').lines.map((l) => [l.to, l.seconds, l.amountCents])).toEqual([
      ['2027-02-01T00:00:00.000Z', 43_200, 24],
    ]);
    // February 2027 (28 days, 2 419 200 s): the same 12 hours -> 1 500 × 43 200 / 2 419 200 = 26.78… -> 27.
    expect(invoiceOf(events, '2027-02').lines.map((l) => [l.from, l.seconds, l.amountCents])).toEqual([
      ['2027-02-01T00:00:00.000Z', 43_200, 27],
    ]);
  });

  it('a whole month costs exactly the monthly price, whatever its length', () => {
    const events = [
      created('2027-01-20T00:00:00Z', 'business-2048'),
      event('2027-01-20T00:00:00Z', 'ClusterReady', ready),
    ];
    for (const month of ['2027-02', '2027-03', '2027-04']) {
      expect(invoiceOf(events, month).totalCents).toBe(18000);
    }
  });

  it('a cluster that never became ready costs nothing; one on another account is not on this invoice', () => {
    const failed = [created('2026-11-02T10:00:00Z'), event('2026-11-02T10:05:00Z', 'ClusterDeleted', {})];
    expect(invoiceOf(failed, '2026-11').lines).toEqual([]);
    const other = [
      { ...created('2026-11-02T10:00:00Z'), data: { ...requested, accountId: 'acme' } },
      event('2026-11-02T10:00:10Z', 'ClusterReady', ready),
    ];
    expect(invoiceOf(other, '2026-11').lines).toEqual([]);
  });
});
