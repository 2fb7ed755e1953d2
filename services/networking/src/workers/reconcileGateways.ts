import { findPlan, foldClusterView, streamIds } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import type { HaproxyGateways } from '@pgfleet/gateway';
import type { CommandContext, Logger } from '@pgfleet/kit';
import { freePort } from '@pgfleet/postgres';
import { decideGateways, entryPoint, type GatewaysCommand } from '../domain/gateways.js';
import { loadGateways, NETWORKING_ACTOR, recordGateways } from './recordGateways.js';

export interface ReconcileGatewaysDeps {
  store: EventStore;
  gateways: HaproxyGateways;
  log: Logger;
  /** The address gateways listen on; default 127.0.0.1. */
  host?: string;
}

/** Rounds of one reconciliation when an outcome is refused because another worker moved the gateways on. */
const ROUNDS = 3;

/**
 * Bring one cluster's gateways in line with its history: started (idempotently) and forwarding
 * to the leader while the cluster is ready, removed once it is deleted. Every outcome goes
 * through the gateways decider onto `gateway-{clusterId}`; running it again records nothing.
 * Throws when it did not get there (HAProxy or the store failed, or the outcomes were still
 * refused after the last round), so the event that asked for it is not acknowledged.
 */
export async function reconcileGateways(deps: ReconcileGatewaysDeps, clusterId: string): Promise<void> {
  for (let round = 1; round <= ROUNDS; round++) {
    if (await reconcileOnce(deps, clusterId)) return;
    deps.log.info({ clusterId, round }, 'another worker moved the gateways on; reconciling again');
  }
  throw new Error(
    `the gateways of cluster ${clusterId} were not reconciled: their outcomes were refused ${ROUNDS} times`,
  );
}

/** One pass; false when an outcome was refused (the recorded state moved on meanwhile). */
async function reconcileOnce(deps: ReconcileGatewaysDeps, clusterId: string): Promise<boolean> {
  const clusterEvents = (await deps.store.readStream(streamIds.cluster(clusterId))).events;
  const cluster = foldClusterView(clusterEvents);
  const state = await loadGateways(deps.store, clusterId);
  const plan = cluster.plan ? findPlan(cluster.plan) : undefined;
  const action = decideGateways(cluster, plan?.gateways ?? 1, state);
  const cause = clusterEvents.at(-1);
  const meta: CommandContext = {
    actor: NETWORKING_ACTOR,
    correlationId: cause?.correlationId,
    causationId: cause?.id ?? null,
  };
  const record = async (command: GatewaysCommand): Promise<boolean> => {
    const reply = await recordGateways(deps.store, clusterId, command, meta);
    if (!reply.ok) {
      deps.log.info({ clusterId, command: command.type, code: reply.code, reason: reply.message }, 'outcome refused');
    }
    return reply.ok;
  };

  switch (action.kind) {
    case 'none':
      return true;
    case 'remove': {
      for (const gatewayId of action.gatewayIds) await deps.gateways.remove(clusterId, gatewayId);
      if (!(await record({ type: 'RemoveGateways', gatewayIds: action.gatewayIds }))) return false;
      deps.log.info({ clusterId }, 'gateways removed');
      return true;
    }
    case 'ensure': {
      const address = entryPoint(state) ?? { host: deps.host ?? '127.0.0.1', port: await freePort() };
      for (const gatewayId of action.gatewayIds) {
        // Switch a running gateway at runtime first: sessions to the old leader are cut now. A reload
        // (below, when the rendered leader changed) would otherwise leave them on the replaced process.
        const api = deps.gateways.runtimeApi(clusterId, gatewayId);
        const running = (await deps.gateways.status(clusterId, gatewayId)).state === 'running';
        if (running) await api.switchLeader(action.leader, { oldSessions: 'shutdown' });
        await deps.gateways.start({
          clusterId,
          gatewayId,
          leaderNodeId: action.leader,
          // Loopback always; the outside address too while the cluster is exposed (TLS forced).
          binds: state.exposed ? [address, { host: state.exposed.address, port: address.port }] : [address],
          nodes: action.nodes.map((n) => ({ nodeId: n.nodeId, host: '127.0.0.1', port: n.port })),
        });
        await api.switchLeader(action.leader, { oldSessions: 'shutdown' }); // a no-op when the config already says so
        if (!(await record({ type: 'StartGateway', gatewayId, ...address }))) return false;
      }
      const { leader, gatewayIds } = action;
      if (!(await record({ type: 'SetGatewayLeader', leader, gatewayIds }))) return false;
      if (state.leader !== leader) deps.log.info({ clusterId, leader }, 'gateways forward to the leader');
      return true;
    }
    default: {
      const never: never = action;
      return never;
    }
  }
}
