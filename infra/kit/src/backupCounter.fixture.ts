import type { EventOfType } from '@pgfleet/contracts';
import { accept, reject, type Decider } from './decider.js';

/** A toy decider for the kit's tests: requested backups of one cluster, at most `max`. */
export type Requested = EventOfType<'BackupRequested'>;
export interface RequestBackup {
  backupId: string;
  clusterId: string;
  max: number;
}
export interface Counter {
  count: number;
  ids: string[];
}

export const backupCounter: Decider<Counter, RequestBackup, Requested> = {
  initialState: { count: 0, ids: [] },
  evolve: (state, event) => {
    switch (event.type) {
      case 'BackupRequested':
        return { count: state.count + 1, ids: [...state.ids, event.data.backupId] };
    }
  },
  decide: (command, state) => {
    if (state.ids.includes(command.backupId)) return accept();
    if (state.count >= command.max) {
      return reject('QUOTA_EXCEEDED', `at most ${command.max} backups for cluster ${command.clusterId}`, {
        field: 'clusterId',
        limit: command.max,
        used: state.count,
      });
    }
    return accept({
      type: 'BackupRequested',
      data: { backupId: command.backupId, clusterId: command.clusterId, kind: 'manual' },
    });
  },
};

export const requested = (backupId: string, clusterId = 'c1'): Requested => ({
  type: 'BackupRequested',
  data: { backupId, clusterId, kind: 'manual' },
});
