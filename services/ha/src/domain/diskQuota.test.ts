import { describe, expect, it } from 'vitest';
import { foldDisk, type DiskEvent } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { backUnderMargin, diskQuotaDecider, measurementStep } from './diskQuota.js';

const spec = deciderSpec(diskQuotaDecider);

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const limit = 10 * GiB;
const clusterId = 'c1';

const measure = (used: number, l = limit) => ({ type: 'RecordDiskUsage', clusterId, used, limit: l }) as const;
const measured = (used: number, l = limit): DiskEvent => ({
  type: 'DiskUsageMeasured',
  data: { clusterId, used, limit: l },
});
const exceeded = (used: number, l = limit): DiskEvent => ({
  type: 'QuotaExceeded',
  data: { kind: 'disk', clusterId, used, limit: l },
});
const backUnder = (used: number, l = limit): DiskEvent => ({
  type: 'DiskUsageBackUnderQuota',
  data: { clusterId, used, limit: l },
});

/** Feed measurements one after the other, as the watcher does, and collect what is recorded. */
function run(sizes: number[], l = limit): DiskEvent[] {
  const history: DiskEvent[] = [];
  for (const used of sizes) {
    const decision = diskQuotaDecider.decide(measure(used, l), foldDisk(history));
    if (!decision.ok) throw new Error(decision.rejection.message);
    history.push(...decision.events);
  }
  return history;
}

describe('disk quota', () => {
  it('records the first measurement, then only a move by a step (1% of the limit, at least 8 MiB)', () => {
    expect(measurementStep(limit)).toBe(Math.floor(limit / 100));
    expect(measurementStep(64 * MiB)).toBe(8 * MiB);
    spec
      .given([])
      .when(measure(GiB))
      .then([measured(GiB)], { clusterId, used: GiB, limit, over: false, version: 1 });
    const step = measurementStep(limit);
    spec
      .given([measured(GiB)])
      .when(measure(GiB + step - 1))
      .then([]);
    spec
      .given([measured(GiB)])
      .when(measure(GiB - step + 1))
      .then([]);
    spec
      .given([measured(GiB)])
      .when(measure(GiB + step))
      .then([measured(GiB + step)]);
    spec
      .given([measured(GiB)])
      .when(measure(GiB - step))
      .then([measured(GiB - step)]);
  });

  it('records a new limit (a plan change) even when the size did not move', () => {
    spec
      .given([measured(GiB)])
      .when(measure(GiB, 20 * GiB))
      .then([measured(GiB, 20 * GiB)]);
  });

  it('crossing the limit records QuotaExceeded {kind: disk, used, limit} once, not at every measurement', () => {
    spec
      .given([measured(9 * GiB)])
      .when(measure(limit + 1))
      .then([exceeded(limit + 1)], (s) => expect(s).toMatchObject({ over: true, used: limit + 1, limit }));
    spec
      .given([measured(9 * GiB), exceeded(limit + 1)])
      .when(measure(limit + 2))
      .then([]);
    // Growing further while over is a measurement, not a second crossing.
    spec
      .given([exceeded(limit + 1)])
      .when(measure(limit + GiB))
      .then([measured(limit + GiB)]);
    expect(run([GiB, limit + 1, limit + 2, limit + MiB, 12 * GiB, 12 * GiB]).map((e) => e.type)).toEqual([
      'DiskUsageMeasured',
      'QuotaExceeded',
      'DiskUsageMeasured',
    ]);
  });

  it('exactly at the limit is not over it', () => {
    spec
      .given([measured(9 * GiB)])
      .when(measure(limit))
      .then([measured(limit)]);
  });

  it('going back under by the margin records DiskUsageBackUnderQuota; a wobble around the limit does not', () => {
    const margin = backUnderMargin(limit);
    spec
      .given([exceeded(limit + 1)])
      .when(measure(limit))
      .then([]);
    spec
      .given([exceeded(limit + 1)])
      .when(measure(limit - margin / 2))
      .then([]);
    spec
      .given([exceeded(limit + 1)])
      .when(measure(limit - margin))
      .then([backUnder(limit - margin)], (s) => expect(s).toMatchObject({ over: false, used: limit - margin }));
    const wobble = [limit - MiB, limit + MiB, limit - MiB, limit + MiB, limit - MiB];
    expect(run(wobble).map((e) => e.type)).toEqual(['DiskUsageMeasured', 'QuotaExceeded']);
  });

  it('over, back under, over again: one QuotaExceeded and one DiskUsageBackUnderQuota per crossing', () => {
    const sizes = [GiB, 11 * GiB, 11 * GiB, 2 * GiB, 2 * GiB, 11 * GiB, 3 * GiB];
    expect(run(sizes).map((e) => e.type)).toEqual([
      'DiskUsageMeasured',
      'QuotaExceeded',
      'DiskUsageBackUnderQuota',
      'QuotaExceeded',
      'DiskUsageBackUnderQuota',
    ]);
  });

  it('a larger limit (a plan change) brings an over-quota cluster back under', () => {
    spec
      .given([exceeded(11 * GiB)])
      .when(measure(11 * GiB, 20 * GiB))
      .then([backUnder(11 * GiB, 20 * GiB)]);
  });

  it('a backup QuotaExceeded in the history is not the disk quota', () => {
    const backup = { type: 'QuotaExceeded', data: { clusterId, quota: 'backups.manual.total', limit: 2, used: 2 } };
    expect(foldDisk([backup, measured(GiB)])).toMatchObject({ over: false, used: GiB, version: 1 });
  });
});
