import { foldGateways, streamIds, type Actor, type CommandReply } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand, type CommandContext } from '@pgfleet/kit';
import { gatewaysDecider, type GatewaysCommand, type GatewaysState } from '../domain/gateways.js';

export const NETWORKING_ACTOR: Actor = { kind: 'service', id: 'networking' };

/**
 * Record an outcome on `gateway-{clusterId}` through the gateways decider: decided against the
 * current stream and appended at the version read (decided again after a conflict), so a repeat
 * or a stale worker records nothing. The actor defaults to the networking service.
 */
export function recordGateways(
  store: EventStore,
  clusterId: string,
  command: GatewaysCommand,
  meta: CommandContext = {},
): Promise<CommandReply> {
  return handleCommand({
    store,
    streamId: streamIds.gateway(clusterId),
    ...gatewaysDecider,
    command,
    meta: { ...meta, actor: meta.actor ?? NETWORKING_ACTOR },
  });
}

/** The cluster's gateways as recorded now. */
export async function loadGateways(store: EventStore, clusterId: string): Promise<GatewaysState> {
  return foldGateways((await store.readStream(streamIds.gateway(clusterId))).events);
}
