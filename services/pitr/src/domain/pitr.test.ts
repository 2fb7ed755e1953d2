import { findPlan } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { describe, it } from 'vitest';
import type { ArchiverSample } from './archiver.js';
import { INTERRUPTED, pitrDecider, type PitrClusterFacts, type PitrCommand, type PitrEvent } from './pitr.js';

const starter = findPlan('starter-512')!;
const cluster = (plan = starter, patch: Partial<PitrClusterFacts> = {}): PitrClusterFacts => ({
  clusterId: 'c1',
  name: 'prod-db',
  plan,
  ready: true,
  deleted: false,
  ...patch,
});
const spec = deciderSpec(pitrDecider);
const T0 = '2026-11-30T10:00:00.000Z';

const enabled: PitrEvent = { type: 'ContinuousBackupEnabled', data: { clusterId: 'c1', stanza: 'c1', node: 'node1' } };
const requested = (backupId: string, kind: 'initial' | 'weekly' | 'manual' = 'initial'): PitrEvent => ({
  type: 'PitrBackupRequested',
  data: { backupId, clusterId: 'c1', kind, requestedAt: T0 },
});
const started = (backupId: string): PitrEvent => ({ type: 'PitrBackupStarted', data: { backupId, node: 'node1' } });
const completed = (backupId: string, label: string): PitrEvent => ({
  type: 'PitrBackupCompleted',
  data: { backupId, label, startedAt: T0, stopAt: '2026-11-30T10:01:00.000Z', size: 4096, durationMs: 60_000 },
});
const request = (backupId: string, kind: 'weekly' | 'manual' = 'manual', c = cluster()): PitrCommand => ({
  type: 'RequestPitrBackup',
  cluster: c,
  backupId,
  kind,
  now: T0,
});
const sample = (patch: Partial<ArchiverSample>): PitrCommand => ({
  type: 'RecordArchiver',
  sample: { now: '2026-11-30T11:00:00.000Z', failedCount: 0, pendingSegments: 0, ...patch },
  thresholdSeconds: 300,
});

describe('EnableContinuousBackup', () => {
  const enable = (c = cluster()): PitrCommand => ({
    type: 'EnableContinuousBackup',
    cluster: c,
    stanza: 'c1',
    node: 'node1',
    backupId: 'p1',
    now: T0,
  });

  it('records archiving enabled and asks for the first full backup', () => {
    spec
      .given([])
      .when(enable())
      .then([enabled, requested('p1')]);
  });

  it('is recorded once: a second enable (a redelivered ClusterReady, a restart) adds nothing', () => {
    spec
      .given([enabled, requested('p1')])
      .when(enable())
      .then([]);
  });

  it('is refused on a Sandbox cluster, which has no PITR', () => {
    spec
      .given([])
      .when(enable(cluster(findPlan('sandbox')!)))
      .thenRejects('PITR_NOT_IN_PLAN', /sandbox plan of cluster prod-db has no point-in-time recovery/);
  });
});

describe('RequestPitrBackup', () => {
  it('asks for a full backup of an archiving cluster', () => {
    spec
      .given([enabled, requested('p1'), started('p1'), completed('p1', 'L1')])
      .when(request('p2'))
      .then([requested('p2', 'manual')]);
  });

  it('is refused before archiving is enabled', () => {
    spec
      .given([])
      .when(request('p2'))
      .thenRejects('PITR_NOT_READY', /not archiving its WAL yet/);
  });

  it('refuses a manual backup while another runs, and lets a weekly slot pass quietly', () => {
    spec
      .given([enabled, requested('p1'), started('p1')])
      .when(request('p2'))
      .thenRejects('PITR_BACKUP_IN_PROGRESS', /already running \(p1\)/);
    spec
      .given([enabled, requested('p1'), started('p1')])
      .when(request('p2', 'weekly'))
      .then([]);
  });
});

describe('full backup outcomes', () => {
  it('starts a requested backup once, then completes it with its label, size and duration', () => {
    spec
      .given([enabled, requested('p1')])
      .when({ type: 'StartPitrBackup', backupId: 'p1', node: 'node2' })
      .then([{ type: 'PitrBackupStarted', data: { backupId: 'p1', node: 'node2' } }]);
    spec
      .given([enabled, requested('p1'), started('p1')])
      .when({ type: 'StartPitrBackup', backupId: 'p1', node: 'node2' })
      .thenRejects('PITR_BACKUP_NOT_PENDING');
    const stopAt = '2026-11-30T10:01:00.000Z';
    spec
      .given([enabled, requested('p1'), started('p1')])
      .when({
        type: 'CompletePitrBackup',
        backupId: 'p1',
        label: 'L1',
        startedAt: T0,
        stopAt,
        size: 4096,
        durationMs: 60_000,
      })
      .then([completed('p1', 'L1')]);
  });

  it('fails a backup a crash interrupted and asks for it again', () => {
    spec
      .given([enabled, requested('p1', 'weekly'), started('p1')])
      .when({ type: 'RedoInterruptedBackup', backupId: 'p1', retryId: 'p2', now: T0 })
      .then([{ type: 'PitrBackupFailed', data: { backupId: 'p1', reason: INTERRUPTED } }, requested('p2', 'weekly')]);
  });

  it('records the backups retention removed from the repository', () => {
    spec
      .given([enabled, requested('p1'), started('p1'), completed('p1', 'L1'), requested('p2'), started('p2')])
      .when({ type: 'RecordExpiredBackups', keptLabels: ['L2'], keepDays: 7 })
      .then([{ type: 'PitrBackupsExpired', data: { labels: ['L1'], keepDays: 7 } }]);
  });
});

describe('archiver health: transitions only', () => {
  const failing = sample({
    lastArchivedAt: '2026-11-30T10:50:00.000Z',
    lastFailedAt: '2026-11-30T10:59:00.000Z',
    lastFailedWal: '000000010000000000000007',
    failedCount: 3,
    pendingSegments: 2,
  });

  it('records WalArchivingFailed when the last failure is newer than the last success, once', () => {
    spec
      .given([enabled])
      .when(failing)
      .then([
        {
          type: 'WalArchivingFailed',
          data: {
            reason:
              'archive_command failed for WAL segment 000000010000000000000007 at 2026-11-30T10:59:00.000Z' +
              ' (3 failures so far); 2 segment(s) wait to be archived',
            lastFailedWal: '000000010000000000000007',
            lastArchivedAt: '2026-11-30T10:50:00.000Z',
          },
        },
      ]);
    const alreadyFailed: PitrEvent = { type: 'WalArchivingFailed', data: { reason: 'x' } };
    spec.given([enabled, alreadyFailed]).when(failing).then([]);
  });

  it('records WalArchivingDelayed when WAL waits longer than the threshold', () => {
    spec
      .given([enabled])
      .when(sample({ lastArchivedAt: '2026-11-30T10:50:00.000Z', pendingSegments: 1 }))
      .then([{ type: 'WalArchivingDelayed', data: { lagSeconds: 600, lastArchivedAt: '2026-11-30T10:50:00.000Z' } }]);
  });

  it('records WalArchivingRecovered when archiving catches up, and nothing while all is well', () => {
    const recovered = sample({ lastArchivedAt: '2026-11-30T10:59:30.000Z', lastFailedAt: '2026-11-30T10:59:00.000Z' });
    spec
      .given([enabled, { type: 'WalArchivingFailed', data: { reason: 'x' } }])
      .when(recovered)
      .then([{ type: 'WalArchivingRecovered', data: { lastArchivedAt: '2026-11-30T10:59:30.000Z' } }]);
    spec.given([enabled]).when(recovered).then([]);
  });
});

describe('a deleted cluster', () => {
  it("keeps the archive for the plan's window, then records its removal once", () => {
    spec
      .given([enabled])
      .when({ type: 'RetainArchive', cluster: cluster(starter, { deleted: true }), deletedAt: T0 })
      .then([{ type: 'PitrArchiveRetained', data: { clusterId: 'c1', until: '2026-12-07T10:00:00.000Z' } }]);
    const retained: PitrEvent = { type: 'PitrArchiveRetained', data: { clusterId: 'c1', until: T0 } };
    spec
      .given([enabled, retained])
      .when({ type: 'RecordArchiveRemoved', clusterId: 'c1' })
      .then([{ type: 'PitrArchiveRemoved', data: { clusterId: 'c1' } }]);
    spec
      .given([enabled, retained, { type: 'PitrArchiveRemoved', data: { clusterId: 'c1' } }])
      .when({ type: 'RecordArchiveRemoved', clusterId: 'c1' })
      .then([]);
  });

  it('takes no new full backup', () => {
    const retained: PitrEvent = { type: 'PitrArchiveRetained', data: { clusterId: 'c1', until: T0 } };
    spec.given([enabled, retained]).when(request('p9')).thenRejects('CLUSTER_DELETED');
  });
});
