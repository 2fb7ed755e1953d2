import { describe, expect, it } from 'vitest';
import { validateEvent } from '../envelope.js';
import { foldBackups, isBackupEvent } from './backups.js';
import { foldDisk, isDiskEvent } from './disk.js';

const diskQuota = { kind: 'disk', clusterId: 'c1', used: 1500, limit: 1000 };
const backupQuota = { clusterId: 'c1', quota: 'backups.manual.total', limit: 10, used: 10 };

describe('QuotaExceeded: one type name, the backup quotas and the disk quota', () => {
  it('accepts both shapes and refuses a mix of them', () => {
    expect(validateEvent('QuotaExceeded', diskQuota)).toEqual({
      ok: true,
      value: { type: 'QuotaExceeded', data: diskQuota },
    });
    expect(validateEvent('QuotaExceeded', backupQuota).ok).toBe(true);
    expect(validateEvent('QuotaExceeded', { kind: 'disk', clusterId: 'c1', used: 1 }).ok).toBe(false);
    expect(validateEvent('QuotaExceeded', { kind: 'memory', clusterId: 'c1', used: 1, limit: 1 }).ok).toBe(false);
  });

  it('the backups view folds only the backup quota, the disk view only the disk quota', () => {
    const disk = { type: 'QuotaExceeded', data: diskQuota };
    const backup = { type: 'QuotaExceeded', data: backupQuota };
    expect([isBackupEvent(disk), isBackupEvent(backup)]).toEqual([false, true]);
    expect([isDiskEvent(disk), isDiskEvent(backup)]).toEqual([true, false]);
    expect(foldBackups([disk]).version).toBe(0);
    expect(foldDisk([backup, disk])).toEqual({ clusterId: 'c1', used: 1500, limit: 1000, over: true, version: 1 });
    expect(
      foldDisk([disk, { type: 'DiskUsageBackUnderQuota', data: { clusterId: 'c1', used: 900, limit: 1000 } }]),
    ).toMatchObject({ over: false, used: 900, version: 2 });
  });
});
