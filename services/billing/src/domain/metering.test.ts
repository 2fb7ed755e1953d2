import { describe, expect, it } from 'vitest';
import { meteredEventOf } from './metering.js';

const at = '2026-11-03T10:00:00.999Z';
const of = (type: string, data: object, streamId = 'cluster-c1') =>
  meteredEventOf({ type, data, streamId, occurredAt: at });
const second = Date.parse('2026-11-03T10:00:00Z') / 1000;

describe('what billing reads of the history', () => {
  it('takes each event at its whole second, the cluster from the stream', () => {
    expect(of('ClusterDeleted', {})).toEqual({ kind: 'deleted', clusterId: 'c1', at: second });
    expect(of('ClusterPlanChanged', { from: 'starter-512', to: 'business-1024' })).toEqual({
      kind: 'planChanged',
      clusterId: 'c1',
      plan: 'business-1024',
      at: second,
    });
  });

  it('bills a disk QuotaExceeded by the bytes over the limit, and ignores a backup QuotaExceeded', () => {
    const disk = { kind: 'disk', clusterId: 'c1', used: 1500, limit: 1000 };
    expect(of('QuotaExceeded', disk, 'disk-c1')).toMatchObject({
      kind: 'diskOverQuota',
      clusterId: 'c1',
      overBytes: 500,
    });
    const backupQuota = { clusterId: 'c1', quota: 'backups.manual.total', limit: 10, used: 10 };
    expect(of('QuotaExceeded', backupQuota, 'backups-c1')).toBeUndefined();
    expect(of('DiskUsageBackUnderQuota', { clusterId: 'c2', used: 900, limit: 1000 }, 'disk-c2')).toEqual({
      kind: 'diskUnderQuota',
      clusterId: 'c2',
      at: second,
    });
  });

  it('ignores what does not change a price', () => {
    expect(of('NodeStarted', { nodeId: 'n1', port: 5432 })).toBeUndefined();
    expect(of('ClusterReady', { nope: true })).toBeUndefined();
  });
});
