import { describe, expect, it } from 'vitest';
import { PLANS, Plan, findPlan } from './plans.js';

describe('plan catalog', () => {
  it('every plan is valid against the Plan schema and ids are unique', () => {
    for (const p of PLANS) expect(Plan.parse(p)).toEqual(p);
    expect(new Set(PLANS.map((p) => p.id)).size).toBe(PLANS.length);
  });

  it('business plans have 3 data nodes, 2 gateways, synchronous replication and follower backups', () => {
    const b = findPlan('business-2048')!;
    expect([b.dataNodes, b.gateways, b.synchronousReplication, b.backups.onFollower]).toEqual([3, 2, true, true]);
    expect(b.backups.manualTotal).toBe(50);
    expect(b.backups.manualDaily).toBe(100);
    expect(b.backups.daily).toEqual({ days: 7, weeks: 8, months: 12 });
    expect(b.pitrDays).toBe(14);
  });

  it('starter keeps 10 manual backups rolling, 20 a day, 7 dailies + 4 weeklies; sandbox has none', () => {
    const s = findPlan('starter-512')!;
    expect([s.dataNodes, s.gateways, s.backups.manualTotal, s.backups.manualDaily, s.pitrDays]).toEqual([
      1, 1, 10, 20, 7,
    ]);
    expect(s.backups.daily).toEqual({ days: 7, weeks: 4, months: 0 });
    expect(findPlan('sandbox')!.backups.enabled).toBe(false);
    expect(findPlan('nope')).toBeUndefined();
  });
});
