import type { EventOfType } from '@pgfleet/contracts';
import { accept, reject, type Decider, type Decision } from '@pgfleet/kit';

/** The `names-{accountId}` aggregate: which cluster names an account uses. */

export type NamesEvent = EventOfType<'ClusterNameReserved' | 'ClusterNameReleased'>;

export interface NamesState {
  /** Cluster name -> the id of the cluster holding it. */
  byName: ReadonlyMap<string, string>;
}

interface ClusterName {
  accountId: string;
  name: string;
  clusterId: string;
}

export type NamesCommand = ({ type: 'ReserveName' } & ClusterName) | ({ type: 'ReleaseName' } & ClusterName);

function evolveNames(state: NamesState, event: NamesEvent): NamesState {
  const byName = new Map(state.byName);
  switch (event.type) {
    case 'ClusterNameReserved':
      byName.set(event.data.name, event.data.clusterId);
      return { byName };
    case 'ClusterNameReleased':
      if (byName.get(event.data.name) === event.data.clusterId) byName.delete(event.data.name);
      return { byName };
    default: {
      const never: never = event;
      return never;
    }
  }
}

function decideNames(command: NamesCommand, state: NamesState): Decision<NamesEvent> {
  const { accountId, name, clusterId } = command;
  const holder = state.byName.get(name);
  switch (command.type) {
    case 'ReserveName':
      if (holder === clusterId) return accept();
      if (holder) {
        const message = `a cluster named ${name} already exists in account ${accountId}`;
        return reject('NAME_TAKEN', message, { field: 'name', rule: 'unique_per_account' });
      }
      return accept({ type: 'ClusterNameReserved', data: { accountId, name, clusterId } });
    case 'ReleaseName':
      if (holder !== clusterId) return accept();
      return accept({ type: 'ClusterNameReleased', data: { accountId, name, clusterId } });
    default: {
      const never: never = command;
      return never;
    }
  }
}

export const namesDecider: Decider<NamesState, NamesCommand, NamesEvent> = {
  initialState: { byName: new Map() },
  evolve: evolveNames,
  decide: decideNames,
};
