import { findPlan, streamIds, type DomainEvent } from '@pgfleet/contracts';
import { WrongExpectedVersion, type EventStore } from '@pgfleet/eventstore';
import type { HaproxyGateways } from '@pgfleet/gateway';
import type { Logger } from '@pgfleet/kit';
import { freePort } from '@pgfleet/postgres';
import { foldClusterView } from '../domain/clusterView.js';
import { decideGateways, entryPoint, evolveGateways, foldGateways, type GatewaysState } from '../domain/gateways.js';

export interface ReconcileGatewaysDeps {
  store: EventStore;
  gateways: HaproxyGateways;
  log: Logger;
  /** The address gateways listen on; default 127.0.0.1. */
  host?: string;
}

export const NETWORKING_ACTOR = { kind: 'service' as const, id: 'networking' };

/**
 * Bring one cluster's gateways in line with its history: started (idempotently) and forwarding
 * to the leader while the cluster is ready, removed once it is deleted. Every outcome is an
 * event on `gateway-{clusterId}`, appended at the version seen; running it again is harmless.
 */
export async function reconcileGateways(deps: ReconcileGatewaysDeps, clusterId: string): Promise<GatewaysState> {
  const clusterEvents = (await deps.store.readStream(streamIds.cluster(clusterId))).events;
  const cluster = foldClusterView(clusterEvents);
  const streamId = streamIds.gateway(clusterId);
  let state = foldGateways((await deps.store.readStream(streamId)).events);
  const plan = cluster.plan ? findPlan(cluster.plan) : undefined;
  const action = decideGateways(cluster, plan?.gateways ?? 1, state);
  const cause = clusterEvents.at(-1);
  const record = async (...evs: DomainEvent[]) => {
    const stamped = evs.map((e) => ({ ...e, actor: NETWORKING_ACTOR, correlationId: cause?.correlationId, causationId: cause?.id ?? null }));
    await deps.store.appendToStream(streamId, stamped, { expectedVersion: state.version_ });
    state = evs.reduce(evolveGateways, state);
  };
  try {
    if (action.kind === 'remove') {
      for (const gatewayId of action.gatewayIds) await deps.gateways.remove(clusterId, gatewayId);
      await record({ type: 'GatewaysRemoved', data: { gatewayIds: action.gatewayIds } });
      deps.log.info({ clusterId }, 'gateways removed');
    } else if (action.kind === 'ensure') {
      const address = entryPoint(state) ?? { host: deps.host ?? '127.0.0.1', port: await freePort() };
      for (const gatewayId of action.gatewayIds) {
        // Switch a running gateway at runtime first: sessions to the old leader are cut now. A reload
        // (below, when the rendered leader changed) would otherwise leave them on the replaced process.
        const api = deps.gateways.runtimeApi(clusterId, gatewayId);
        if ((await deps.gateways.status(clusterId, gatewayId)).state === 'running') await api.switchLeader(action.leader, { oldSessions: 'shutdown' });
        await deps.gateways.start({
          clusterId, gatewayId, leaderNodeId: action.leader,
          // Loopback always; the outside address too while the cluster is exposed (TLS forced).
          binds: state.exposed ? [address, { host: state.exposed.address, port: address.port }] : [address],
          nodes: action.nodes.map((n) => ({ nodeId: n.nodeId, host: '127.0.0.1', port: n.port })),
        });
        await api.switchLeader(action.leader, { oldSessions: 'shutdown' }); // a no-op when the config already says so
        const known = state.gateways.find((g) => g.gatewayId === gatewayId);
        if (!known || known.port !== address.port || known.host !== address.host) {
          await record({ type: 'GatewayStarted', data: { gatewayId, ...address } });
        }
      }
      if (state.leader !== action.leader) {
        await record({ type: 'GatewayLeaderSet', data: { leader: action.leader, gatewayIds: action.gatewayIds } });
        deps.log.info({ clusterId, leader: action.leader }, 'gateways forward to the leader');
      }
    }
  } catch (error) {
    if (error instanceof WrongExpectedVersion) {
      deps.log.info({ clusterId }, 'another worker moved the gateways on; reconciling again later');
      return state;
    }
    throw error;
  }
  return state;
}
