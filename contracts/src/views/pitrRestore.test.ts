import { describe, expect, it } from 'vitest';
import { commandSchema } from '../commands/index.js';
import { parseWith } from '../validation.js';
import { foldPitr } from './pitr.js';
import { lastWindowRestart, restorableWindow } from './pitrRestore.js';

const completed = (backupId: string, stopAt: string) => [
  { type: 'PitrBackupRequested', data: { backupId, clusterId: 'db-1', kind: 'weekly', requestedAt: stopAt } },
  { type: 'PitrBackupStarted', data: { backupId, node: 'node1' } },
  {
    type: 'PitrBackupCompleted',
    data: { backupId, label: `label-${backupId}`, startedAt: stopAt, stopAt, size: 1, durationMs: 1 },
  },
];
const restarted = (at: string, operationId = 'op-1') => ({
  type: 'PitrWindowRestarted',
  data: { clusterId: 'db-1', at, reason: 'in-place-restore', targetTime: at, operationId },
});

describe('restorableWindow: what a restore to a time may target', () => {
  const history = [...completed('b1', '2026-11-01T10:00:00Z'), ...completed('b2', '2026-11-08T10:00:00Z')];

  it('runs from the end of the oldest kept full backup to the last archived WAL', () => {
    const state = foldPitr(history);
    expect(restorableWindow(state, undefined, '2026-11-09T12:00:00Z')).toEqual({
      earliest: '2026-11-01T10:00:00Z',
      latest: '2026-11-09T12:00:00Z',
    });
  });

  it('after a restart begins at the first full backup that ended after it, and is none before one did', () => {
    const events = [...history, restarted('2026-11-08T12:00:00Z')];
    const state = foldPitr(events);
    const restart = lastWindowRestart(events);
    expect(restart?.at).toBe('2026-11-08T12:00:00Z');
    expect(restorableWindow(state, restart?.at, '2026-11-09T12:00:00Z')).toBeUndefined();
    const later = [...events, ...completed('b3', '2026-11-08T13:00:00Z')];
    expect(restorableWindow(foldPitr(later), restart?.at, '2026-11-09T12:00:00Z')).toEqual({
      earliest: '2026-11-08T13:00:00Z',
      latest: '2026-11-09T12:00:00Z',
    });
  });

  it('is none before the first full backup completed', () => {
    expect(restorableWindow(foldPitr([]), undefined, '2026-11-09T12:00:00Z')).toBeUndefined();
  });
});

describe('RestoreToTime: the time must carry an offset', () => {
  const schema = commandSchema('pitr', 'RestoreToTime')!;

  it('accepts an offset or Z, and defaults to a new cluster (not in place)', () => {
    for (const to of ['2026-11-30T10:15:00+01:00', '2026-11-30T09:15:00Z', '2026-11-30T09:15:00.123456Z']) {
      const parsed = parseWith(schema, { clusterId: 'db-1', to }, 'RestoreToTime');
      expect(parsed.ok, to).toBe(true);
      if (parsed.ok) expect(parsed.value).toMatchObject({ inPlace: false });
    }
  });

  it('refuses a local time, naming the field and the form it wants', () => {
    const parsed = parseWith(schema, { clusterId: 'db-1', to: '2026-11-30T10:15:00' }, 'RestoreToTime');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.rejection.message).toMatch(/to: must be an ISO 8601 time with an offset/);
      expect(parsed.rejection.details).toMatchObject({ field: 'to' });
    }
  });
});
