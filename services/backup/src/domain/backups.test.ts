import { findPlan } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { describe, expect, it } from 'vitest';
import {
  backupsDecider,
  evolveBackups,
  initialBackupsState,
  type BackupEvent,
  type ClusterFacts,
  type RequestBackupCommand,
} from './backups.js';
import { backupIdFor } from './backupId.js';

const starter = findPlan('starter-512')!;
const tiny = { ...starter, backups: { ...starter.backups, manualTotal: 2, manualDaily: 3 } };
const cluster = (plan = tiny): ClusterFacts => ({ clusterId: 'c1', name: 'prod-db', plan, ready: true });
const spec = deciderSpec(backupsDecider);

const requested = (backupId: string, requestedAt: string, kind: 'manual' | 'daily' = 'manual'): BackupEvent => ({
  type: 'BackupRequested',
  data: { backupId, clusterId: 'c1', kind, requestedAt },
});
const started = (backupId: string): BackupEvent => ({ type: 'BackupStarted', data: { backupId, node: 'node1' } });
const completed = (backupId: string): BackupEvent => ({
  type: 'BackupCompleted',
  data: { backupId, size: 10, sha256: 'a'.repeat(64), durationMs: 5 },
});
const failed = (backupId: string, reason: string): BackupEvent => ({
  type: 'BackupFailed',
  data: { backupId, reason },
});
const evicted = (backupId: string): BackupEvent => ({ type: 'BackupEvicted', data: { backupId, clusterId: 'c1' } });
const deleted = (backupId: string): BackupEvent => ({ type: 'BackupDeleted', data: { backupId } });
const done = (backupId: string, at: string) => [requested(backupId, at), started(backupId), completed(backupId)];
const request = (backupId: string, now: string, c = cluster()): RequestBackupCommand => ({
  type: 'RequestBackup',
  cluster: c,
  backupId,
  now,
  kind: 'manual',
});

describe('RequestBackup', () => {
  it('is refused on a plan without backups', () => {
    spec
      .given([])
      .when(request('b1', '2025-01-01T10:00:00Z', cluster(findPlan('sandbox')!)))
      .thenRejects('BACKUPS_NOT_IN_PLAN', /sandbox plan of cluster prod-db has no backups/);
  });

  it('is refused while the cluster is not ready', () => {
    spec
      .given([])
      .when(request('b1', '2025-01-01T10:00:00Z', { ...cluster(), ready: false }))
      .thenRejects('CLUSTER_NOT_READY');
  });

  it('requests a manual backup under the limits', () => {
    spec
      .given([])
      .when(request('b1', '2025-01-01T10:00:00Z'))
      .then([requested('b1', '2025-01-01T10:00:00Z')]);
  });

  it('is idempotent for the same backup id', () => {
    spec
      .given([requested('b1', '2025-01-01T10:00:00Z')])
      .when(request('b1', '2025-01-01T10:00:00Z'))
      .then([]);
  });

  it('records QuotaExceeded then BackupRejected when the daily on-demand limit is reached', () => {
    const given = [
      requested('b1', '2025-01-02T01:00:00Z'),
      requested('b2', '2025-01-02T02:00:00Z'),
      requested('b3', '2025-01-02T23:00:00Z'),
    ];
    const reason = 'daily on-demand backup limit (3) reached for cluster prod-db';
    spec
      .given(given)
      .when(request('b4', '2025-01-02T23:59:00Z'))
      .then([
        { type: 'QuotaExceeded', data: { clusterId: 'c1', quota: 'backups.manual.daily', limit: 3, used: 3 } },
        { type: 'BackupRejected', data: { clusterId: 'c1', code: 'QUOTA_EXCEEDED', reason } },
      ]);
  });

  it('counts the daily limit per UTC day, and refuses when no completed backup can make room', () => {
    const given = [
      requested('b1', '2025-01-01T22:00:00Z'),
      requested('b2', '2025-01-01T23:00:00Z'),
      failed('b1', 'x'),
      requested('b3', '2025-01-01T23:30:00Z'),
    ];
    const reason = 'on-demand backup limit (2) reached for cluster prod-db and no completed backup can make room yet';
    spec
      .given(given)
      .when(request('b4', '2025-01-02T00:00:01Z'))
      .then([
        { type: 'QuotaExceeded', data: { clusterId: 'c1', quota: 'backups.manual.total', limit: 2, used: 2 } },
        { type: 'BackupRejected', data: { clusterId: 'c1', code: 'QUOTA_EXCEEDED', reason } },
      ]);
  });

  it(
    'evicts the oldest completed on-demand backup when the rolling limit is reached: ' +
      'QuotaExceeded, BackupEvicted, BackupRequested',
    () => {
      const daily = done('d1', '2025-01-02T03:00:00Z').map((e) =>
        e.type === 'BackupRequested' ? requested('d1', '2025-01-02T03:00:00Z', 'daily') : e,
      );
      const given = [...done('b1', '2025-01-01T10:00:00Z'), ...done('b2', '2025-01-02T10:00:00Z'), ...daily];
      spec
        .given(given)
        .when(request('b3', '2025-01-03T10:00:00Z'))
        .then([
          { type: 'QuotaExceeded', data: { clusterId: 'c1', quota: 'backups.manual.total', limit: 2, used: 2 } },
          { type: 'BackupEvicted', data: { backupId: 'b1', clusterId: 'c1' } },
          requested('b3', '2025-01-03T10:00:00Z'),
        ]);
    },
  );

  it('does not count evicted, deleted or failed backups against the rolling limit', () => {
    const given = [
      ...done('b1', '2025-01-01T10:00:00Z'),
      evicted('b1'),
      deleted('b1'),
      requested('b2', '2025-01-02T10:00:00Z'),
      failed('b2', 'x'),
      ...done('b3', '2025-01-02T11:00:00Z'),
    ];
    spec
      .given(given)
      .when(request('b4', '2025-01-03T10:00:00Z'))
      .then([requested('b4', '2025-01-03T10:00:00Z')]);
  });

  it('takes daily backups outside the on-demand quotas', () => {
    const given = [
      ...done('b1', '2025-01-01T10:00:00Z'),
      ...done('b2', '2025-01-01T11:00:00Z'),
      requested('b3', '2025-01-01T12:00:00Z'),
    ];
    spec
      .given(given)
      .when({ ...request('d1', '2025-01-01T13:00:00Z'), kind: 'daily' })
      .then([requested('d1', '2025-01-01T13:00:00Z', 'daily')]);
  });
});

describe('SetBackupSchedule', () => {
  it('records the schedule', () => {
    spec
      .given([])
      .when({ type: 'SetBackupSchedule', cluster: cluster(), at: '03:30', tz: 'Europe/Paris' })
      .then([{ type: 'BackupScheduleSet', data: { clusterId: 'c1', at: '03:30', tz: 'Europe/Paris' } }]);
  });
  it('is refused on a plan without backups', () => {
    spec
      .given([])
      .when({ type: 'SetBackupSchedule', cluster: cluster(findPlan('sandbox')!), at: '03:30', tz: 'UTC' })
      .thenRejects('BACKUPS_NOT_IN_PLAN');
  });
});

describe('a deleted cluster', () => {
  const schedule: BackupEvent = { type: 'BackupScheduleSet', data: { clusterId: 'c1', at: '03:00', tz: 'UTC' } };
  const done = [requested('b1', '2030-01-01T10:00:00Z'), started('b1'), completed('b1')];
  const retain = {
    type: 'RetainBackups',
    clusterId: 'c1',
    plan: starter,
    deletedAt: '2030-03-01T10:00:00.000Z',
  } as const;
  const retained: BackupEvent = {
    type: 'BackupsRetained',
    data: { clusterId: 'c1', until: '2030-03-29T10:00:00.000Z', backupIds: ['b1'] },
  };
  it('loses its schedule and keeps its completed backups for the plan retention after the delete, once', () => {
    spec
      .given([schedule, ...done])
      .when(retain)
      .then([{ type: 'BackupScheduleRemoved', data: { clusterId: 'c1' } }, retained]);
    spec
      .given([schedule, ...done, { type: 'BackupScheduleRemoved', data: { clusterId: 'c1' } }, retained])
      .when(retain)
      .then([]);
    spec
      .given([schedule])
      .when(retain)
      .then([{ type: 'BackupScheduleRemoved', data: { clusterId: 'c1' } }]);
  });
  it('expires the kept backups only once the retention passed', () => {
    spec
      .given([...done, retained])
      .when({ type: 'ExpireRetainedBackups', now: '2030-03-29T09:59:59.000Z' })
      .then([]);
    spec
      .given([...done, retained])
      .when({ type: 'ExpireRetainedBackups', now: '2030-03-29T10:00:00.000Z' })
      .then([{ type: 'BackupExpired', data: { backupId: 'b1' } }]);
  });
});

describe('worker outcomes', () => {
  it('starts a requested backup once: a second start is refused', () => {
    spec
      .given([requested('b1', '2025-01-01T10:00:00Z')])
      .when({ type: 'StartBackup', backupId: 'b1', node: 'node2' })
      .then([{ type: 'BackupStarted', data: { backupId: 'b1', node: 'node2' } }]);
    spec
      .given([requested('b1', '2025-01-01T10:00:00Z'), started('b1')])
      .when({ type: 'StartBackup', backupId: 'b1', node: 'node2' })
      .thenRejects('BACKUP_NOT_PENDING');
  });
  it('completes only a running backup', () => {
    spec
      .given([requested('b1', '2025-01-01T10:00:00Z'), started('b1'), failed('b1', 'interrupted')])
      .when({ type: 'CompleteBackup', backupId: 'b1', size: 1, sha256: 'b'.repeat(64), durationMs: 1 })
      .thenRejects('BACKUP_NOT_PENDING');
  });
  it('deletes evicted backups once', () => {
    const gone = [...done('b1', '2025-01-01T10:00:00Z'), evicted('b1')];
    spec
      .given(gone)
      .when({ type: 'DeleteBackup', backupId: 'b1' })
      .then([{ type: 'BackupDeleted', data: { backupId: 'b1' } }]);
    spec
      .given([...gone, deleted('b1')])
      .when({ type: 'DeleteBackup', backupId: 'b1' })
      .then([]);
  });
  it('expires only completed backups', () => {
    spec
      .given([...done('d1', '2025-01-01T03:00:00Z'), requested('d2', '2025-01-02T03:00:00Z')])
      .when({ type: 'ExpireBackups', backupIds: ['d1', 'd2'] })
      .then([{ type: 'BackupExpired', data: { backupId: 'd1' } }]);
  });
  it('folds a backup through its lifecycle', () => {
    const s = [...done('b1', '2025-01-01T10:00:00Z')].reduce(evolveBackups, initialBackupsState());
    expect(s.backups).toEqual([
      {
        backupId: 'b1',
        kind: 'manual',
        status: 'completed',
        requestedAt: '2025-01-01T10:00:00Z',
        node: 'node1',
        size: 10,
        sha256: 'a'.repeat(64),
        durationMs: 5,
        startedAt: undefined,
        finishedAt: undefined,
        onLeaderReason: undefined,
      },
    ]);
    expect(s.version).toBe(3);
  });
});

describe('RequestBackup with a client command id (Idempotency-Key)', () => {
  const now = '2025-01-01T10:00:00Z';
  it('derives one backup id per cluster and key, within the Id rule', () => {
    const id = backupIdFor('c1', 'key-1');
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(backupIdFor('c1', 'key-1')).toBe(id);
    expect(backupIdFor('c1', 'key-2')).not.toBe(id);
    expect(backupIdFor('c2', 'key-1')).not.toBe(id);
  });
  it('the same key twice asks for one backup: the second request records nothing', () => {
    const id = backupIdFor('c1', 'key-1');
    spec
      .given([])
      .when(request(id, now))
      .then([requested(id, now)]);
    spec
      .given([requested(id, now)])
      .when(request(id, '2025-01-01T10:00:05Z'))
      .then([]);
    spec.given(done(id, now)).when(request(id, '2025-01-01T11:00:00Z')).then([]);
  });
  it('a new key asks for a second backup', () => {
    const first = backupIdFor('c1', 'key-1');
    const second = backupIdFor('c1', 'key-2');
    spec
      .given([requested(first, now)])
      .when(request(second, now))
      .then([requested(second, now)], (s) => expect(s.backups.map((b) => b.backupId)).toEqual([first, second]));
  });
});

describe('restores (recorded by the restore operation)', () => {
  const start = {
    type: 'StartRestore',
    operationId: 'op1',
    backupId: 'b1',
    targetClusterId: 'c1',
    node: 'node1',
  } as const;
  const restoreStarted: BackupEvent = {
    type: 'BackupRestoreStarted',
    data: { backupId: 'b1', operationId: 'op1', targetClusterId: 'c1', node: 'node1' },
  };
  const restoreCompleted: BackupEvent = {
    type: 'BackupRestoreCompleted',
    data: { backupId: 'b1', operationId: 'op1', targetClusterId: 'c1', durationMs: 1200 },
  };
  const restoreFailed: BackupEvent = {
    type: 'BackupRestoreFailed',
    data: { backupId: 'b1', operationId: 'op1', targetClusterId: 'c1', reason: 'pg_restore failed: x' },
  };
  const backup = done('b1', '2025-01-01T10:00:00Z');

  it('starts a restore of a completed backup, then completes it', () => {
    spec
      .given(backup)
      .when(start)
      .then([restoreStarted], (s) => expect(s.restores).toMatchObject([{ operationId: 'op1', status: 'running' }]));
    spec
      .given([...backup, restoreStarted])
      .when({ type: 'CompleteRestore', operationId: 'op1', durationMs: 1200 })
      .then([restoreCompleted], (s) =>
        expect(s.restores).toEqual([
          {
            operationId: 'op1',
            backupId: 'b1',
            targetClusterId: 'c1',
            status: 'completed',
            node: 'node1',
            durationMs: 1200,
          },
        ]),
      );
  });

  it('refuses to restore a backup that is unknown or not completed', () => {
    spec.given([]).when(start).thenRejects('BACKUP_NOT_FOUND');
    spec
      .given([requested('b1', '2025-01-01T10:00:00Z'), started('b1')])
      .when(start)
      .thenRejects('BACKUP_NOT_COMPLETED', /backup b1 is running, not completed/);
    spec
      .given([...backup, evicted('b1')])
      .when(start)
      .thenRejects('BACKUP_NOT_COMPLETED');
  });

  it('records a new start of a restore that was interrupted while running, and none after it ended', () => {
    spec
      .given([...backup, restoreStarted])
      .when(start)
      .then([restoreStarted]);
    spec
      .given([...backup, restoreStarted, restoreCompleted])
      .when(start)
      .thenRejects('RESTORE_NOT_RUNNING');
    spec
      .given([...backup, restoreStarted, restoreFailed])
      .when(start)
      .thenRejects('RESTORE_NOT_RUNNING');
  });

  it('fails a running restore once; completes or fails nothing that is not running', () => {
    const fail = { type: 'FailRestore', operationId: 'op1', reason: 'pg_restore failed: x' } as const;
    spec
      .given([...backup, restoreStarted])
      .when(fail)
      .then([restoreFailed], (s) =>
        expect(s.restores).toMatchObject([{ status: 'failed', failedReason: 'pg_restore failed: x' }]),
      );
    spec
      .given([...backup, restoreStarted, restoreFailed])
      .when(fail)
      .then([]);
    spec
      .given([...backup, restoreStarted, restoreCompleted])
      .when(fail)
      .thenRejects('RESTORE_NOT_RUNNING');
    spec
      .given(backup)
      .when(fail)
      .thenRejects('RESTORE_NOT_RUNNING', /operation op1 is not started/);
    spec
      .given([...backup, restoreStarted, restoreFailed])
      .when({ type: 'CompleteRestore', operationId: 'op1', durationMs: 1 })
      .thenRejects('RESTORE_NOT_RUNNING');
    spec
      .given([...backup, restoreStarted, restoreCompleted])
      .when({ type: 'CompleteRestore', operationId: 'op1', durationMs: 1 })
      .then([]);
  });
});

describe('a backup being restored', () => {
  const restoring = (backupId: string): BackupEvent => ({
    type: 'BackupRestoreStarted',
    data: { backupId, operationId: `op-${backupId}`, targetClusterId: 'c1', node: 'node1' },
  });
  it('is not evicted while its restore runs: the next oldest completed one is', () => {
    const given = [...done('b1', '2025-01-01T10:00:00Z'), ...done('b2', '2025-01-02T10:00:00Z'), restoring('b1')];
    spec
      .given(given)
      .when(request('b3', '2025-01-03T10:00:00Z'))
      .then([
        { type: 'QuotaExceeded', data: { clusterId: 'c1', quota: 'backups.manual.total', limit: 2, used: 2 } },
        { type: 'BackupEvicted', data: { backupId: 'b2', clusterId: 'c1' } },
        requested('b3', '2025-01-03T10:00:00Z'),
      ]);
  });
  it('is not expired while its restore runs (retention expires it once the restore ended)', () => {
    const given = [...done('d1', '2025-01-01T03:00:00Z'), restoring('d1')];
    spec
      .given(given)
      .when({ type: 'ExpireBackups', backupIds: ['d1'] })
      .then([]);
    const ended: BackupEvent = {
      type: 'BackupRestoreCompleted',
      data: { backupId: 'd1', operationId: 'op-d1', targetClusterId: 'c1', durationMs: 5 },
    };
    spec
      .given([...given, ended])
      .when({ type: 'ExpireBackups', backupIds: ['d1'] })
      .then([{ type: 'BackupExpired', data: { backupId: 'd1' } }]);
  });
});
