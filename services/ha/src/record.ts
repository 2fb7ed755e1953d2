import { foldClusterView, streamIds, type Actor, type ClusterView, type CommandReply } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand, type CommandContext } from '@pgfleet/kit';
import { haDecider, type HaCommand } from './domain/ha.js';

const HA_ACTOR: Actor = { kind: 'service', id: 'ha' };

/** Decide `command` on the cluster's current stream and append with its version as expected version. */
export function recordHa(
  store: EventStore,
  clusterId: string,
  command: HaCommand,
  meta: CommandContext = {},
): Promise<CommandReply> {
  return handleCommand({
    store,
    streamId: streamIds.cluster(clusterId),
    ...haDecider,
    command,
    meta: { ...meta, actor: meta.actor ?? HA_ACTOR },
  });
}

/** The cluster as its stream tells it now. */
export async function loadView(store: EventStore, clusterId: string): Promise<ClusterView> {
  const { events } = await store.readStream(streamIds.cluster(clusterId));
  return foldClusterView(events);
}
