import type { DomainEvent, EventEnvelope } from '@pgfleet/contracts';
import type { Decision } from './cluster.js';

/** The `names-{accountId}` aggregate: which cluster names an account uses. */
export interface NamesState {
  byName: Map<string, string>;
  version_: number;
}

export const initialNamesState = (): NamesState => ({ byName: new Map(), version_: 0 });

export function evolveNames(state: NamesState, event: DomainEvent | EventEnvelope): NamesState {
  const byName = new Map(state.byName);
  if (event.type === 'ClusterNameReserved') byName.set(event.data.name, event.data.clusterId);
  if (event.type === 'ClusterNameReleased' && byName.get(event.data.name) === event.data.clusterId) byName.delete(event.data.name);
  return { byName, version_: state.version_ + 1 };
}

export function decideReserve(cmd: { accountId: string; name: string; clusterId: string }, state: NamesState): Decision {
  const holder = state.byName.get(cmd.name);
  if (holder === cmd.clusterId) return { ok: true, events: [] };
  if (holder) {
    return { ok: false, rejection: { code: 'NAME_TAKEN', message: `a cluster named ${cmd.name} already exists in account ${cmd.accountId}`, details: { field: 'name', rule: 'unique_per_account' } } };
  }
  return { ok: true, events: [{ type: 'ClusterNameReserved', data: cmd }] };
}

export function decideRelease(cmd: { accountId: string; name: string; clusterId: string }, state: NamesState): Decision {
  if (state.byName.get(cmd.name) !== cmd.clusterId) return { ok: true, events: [] };
  return { ok: true, events: [{ type: 'ClusterNameReleased', data: cmd }] };
}
