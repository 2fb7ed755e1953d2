import { findPlan } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { describe, it } from 'vitest';
import { backupsDecider, type BackupEvent, type RequestBackupCommand } from './backups.js';
import type { ApplyPlanQuotaCommand } from './manualQuota.js';

/** The rolling manual quota when a cluster moves to a plan that keeps fewer manual backups. */

const starter = findPlan('starter-512')!;
/** A plan keeping 2 manual backups: the starter's rule with a small number. */
const keepsTwo = { ...starter, backups: { ...starter.backups, manualTotal: 2 } };
const spec = deciderSpec(backupsDecider);

const requested = (backupId: string, kind: 'manual' | 'daily' = 'manual'): BackupEvent => ({
  type: 'BackupRequested',
  data: { backupId, clusterId: 'c1', kind, requestedAt: '2025-01-01T10:00:00Z' },
});
const started = (backupId: string): BackupEvent => ({ type: 'BackupStarted', data: { backupId, node: 'node2' } });
const completed = (backupId: string): BackupEvent => ({
  type: 'BackupCompleted',
  data: { backupId, size: 10, sha256: 'a'.repeat(64), durationMs: 5 },
});
const done = (backupId: string, kind: 'manual' | 'daily' = 'manual') => [
  requested(backupId, kind),
  started(backupId),
  completed(backupId),
];
const exceeded = (used: number, limit = 2): BackupEvent => ({
  type: 'QuotaExceeded',
  data: { clusterId: 'c1', quota: 'backups.manual.total', limit, used },
});
const evicted = (backupId: string): BackupEvent => ({ type: 'BackupEvicted', data: { backupId, clusterId: 'c1' } });
const toPlan = (plan = keepsTwo): ApplyPlanQuotaCommand => ({ type: 'ApplyPlanQuota', clusterId: 'c1', plan });

describe('ApplyPlanQuota (the cluster moved to another plan)', () => {
  it('records QuotaExceeded then BackupEvicted for the oldest manual backups, down to the new limit', () => {
    spec
      .given([...done('b1'), ...done('b2'), ...done('b3'), ...done('b4')])
      .when(toPlan())
      .then([exceeded(4), evicted('b1'), evicted('b2')]);
  });

  it('records nothing when the cluster keeps no more manual backups than the new plan', () => {
    spec
      .given([...done('b1'), ...done('b2')])
      .when(toPlan())
      .then([]);
  });

  it('records nothing the second time: the same change handled twice evicts once', () => {
    spec
      .given([...done('b1'), ...done('b2'), ...done('b3'), exceeded(3), evicted('b1')])
      .when(toPlan())
      .then([]);
  });

  it('counts neither daily backups nor evicted, deleted or failed ones', () => {
    const given = [
      ...done('d1', 'daily'),
      ...done('b1'),
      evicted('b1'),
      { type: 'BackupDeleted', data: { backupId: 'b1' } } as BackupEvent,
      requested('b2'),
      { type: 'BackupFailed', data: { backupId: 'b2', reason: 'x' } } as BackupEvent,
      ...done('b3'),
      ...done('b4'),
    ];
    spec.given(given).when(toPlan()).then([]);
  });

  it('counts a backup still being taken but evicts only completed ones, oldest first', () => {
    spec
      .given([requested('b1'), started('b1'), ...done('b2'), ...done('b3'), ...done('b4')])
      .when(toPlan())
      .then([exceeded(4), evicted('b2'), evicted('b3')]);
  });

  it('does not evict a backup a restore reads: the next oldest goes', () => {
    const restoring: BackupEvent = {
      type: 'BackupRestoreStarted',
      data: { backupId: 'b1', operationId: 'op1', targetClusterId: 'c1', node: 'node1' },
    };
    spec
      .given([...done('b1'), ...done('b2'), ...done('b3'), restoring])
      .when(toPlan())
      .then([exceeded(3), evicted('b2')]);
  });

  it('records nothing while no backup over the limit can go yet (the next request evicts)', () => {
    spec
      .given([requested('b1'), started('b1'), requested('b2'), requested('b3')])
      .when(toPlan())
      .then([]);
  });

  it('Business -> Starter: of 12 manual backups the 2 oldest go (Starter keeps 10)', () => {
    const ids = Array.from({ length: 12 }, (_, i) => `b${i + 1}`);
    spec
      .given(ids.flatMap((id) => done(id)))
      .when(toPlan(starter))
      .then([exceeded(12, 10), evicted('b1'), evicted('b2')]);
  });

  it('-> Sandbox (keeps none): every completed manual backup goes, oldest first', () => {
    spec
      .given([...done('b1'), ...done('b2'), ...done('d1', 'daily')])
      .when(toPlan(findPlan('sandbox')!))
      .then([exceeded(2, 0), evicted('b1'), evicted('b2')]);
  });
});

describe('RequestBackup over a quota a plan change left exceeded', () => {
  it('evicts down to the quota, making room for the new one', () => {
    const request: RequestBackupCommand = {
      type: 'RequestBackup',
      cluster: { clusterId: 'c1', name: 'prod-db', plan: keepsTwo, ready: true },
      backupId: 'b5',
      now: '2025-01-02T10:00:00Z',
      kind: 'manual',
    };
    spec
      .given([...done('b1'), ...done('b2'), ...done('b3')])
      .when(request)
      .then([
        exceeded(3),
        evicted('b1'),
        evicted('b2'),
        {
          type: 'BackupRequested',
          data: { backupId: 'b5', clusterId: 'c1', kind: 'manual', requestedAt: '2025-01-02T10:00:00Z' },
        },
      ]);
  });
});
