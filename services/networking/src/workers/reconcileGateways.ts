import { findPlan, foldClusterView, streamIds } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { GatewayError, type GatewayAgent, type GatewayRoutes, type HaproxyGateways } from '@pgfleet/gateway';
import type { CommandContext, Logger } from '@pgfleet/kit';
import { decideGateways, type GatewayAction, type GatewaysCommand, type GatewaysState } from '../domain/gateways.js';
import { gatewayBinds, gatewayPlaces } from './gatewayPlaces.js';
import { loadGateways, NETWORKING_ACTOR, recordGateways } from './recordGateways.js';

export interface ReconcileGatewaysDeps {
  store: EventStore;
  gateways: HaproxyGateways;
  log: Logger;
  /** The address gateways listen on; default 127.0.0.1. */
  host?: string;
  /** The HA service's agent every server line asks (PGFLEET_HA_AGENT); no agent check when absent. */
  agent?: GatewayAgent;
}

/** Rounds of one reconciliation when an outcome is refused because another worker moved the gateways on. */
const ROUNDS = 3;

/**
 * Bring one cluster's gateways in line with its history: started (idempotently), forwarding
 * writes to the leader and reads to the followers while the cluster is ready, a node a failover
 * fenced out of both until it rejoined, removed once it is deleted. Every outcome goes
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
    case 'prepare':
      return prepareGateways(deps, clusterId, action.gatewayIds, state, record);
    case 'ensure':
      return ensureGateways(deps, clusterId, action, state, record);
    default: {
      const never: never = action;
      return never;
    }
  }
}

/**
 * While the cluster is provisioned, on a runtime whose gateways are made ahead of their start
 * (`gateways.prepare`: a container each on docker): each gateway placed (recorded) and made, with
 * no HAProxy yet, so that the start at ClusterReady only runs it. Nothing on the process runtime.
 */
async function prepareGateways(
  deps: ReconcileGatewaysDeps,
  clusterId: string,
  gatewayIds: readonly string[],
  state: GatewaysState,
  record: (command: GatewaysCommand) => Promise<boolean>,
): Promise<boolean> {
  const prepare = deps.gateways.prepare;
  if (!prepare) return true;
  const places = await gatewayPlaces(deps, gatewayIds, state, record);
  if (!places) return false;
  await Promise.all(
    gatewayIds.map((gatewayId) =>
      prepare({ clusterId, gatewayId, ...gatewayBinds(places.get(gatewayId)!, state.exposed, []), nodes: [] }),
    ),
  );
  return true;
}

type Ensure = Extract<GatewayAction, { kind: 'ensure' }>;

/**
 * Every gateway of the cluster running as `action` says, in three steps:
 * 1. at once, on every running gateway, through the runtime API: a fenced node out of every
 *    endpoint with its sessions shut (also those a process replaced by an earlier reload still
 *    serves), the leader in, the read-only endpoint over the others. No reload waits before it, so
 *    a node a failover fenced stops taking sessions before anything is promoted; its fence is
 *    recorded right then (GatewayNodeFenced) when every gateway already is;
 * 2. each gateway started, or given the config of the same routes (written without a reload when
 *    only which servers are enabled changed; reloaded seamlessly when more changed), so a restart
 *    or a reload never enables a fenced node; the routes applied again; its addresses recorded;
 * 3. the fences, the rejoined nodes and the leader recorded.
 */
async function ensureGateways(
  deps: ReconcileGatewaysDeps,
  clusterId: string,
  action: Ensure,
  state: GatewaysState,
  record: (command: GatewaysCommand) => Promise<boolean>,
): Promise<boolean> {
  const { gatewayIds, leader } = action;
  const routes: GatewayRoutes = { ...(leader ? { leader } : {}), readOnly: action.readOnly };
  const newlyFenced = action.fenced.filter((f) => !state.fenced.includes(f.nodeId));
  const recordFences = async () => {
    for (const { nodeId, term } of newlyFenced) {
      const fence: GatewaysCommand = { type: 'FenceNode', nodeId, gatewayIds, ...(term !== undefined ? { term } : {}) };
      if (!(await record(fence))) return false;
    }
    return true;
  };

  for (const gatewayId of gatewayIds) {
    if ((await deps.gateways.status(clusterId, gatewayId)).state === 'running') {
      await routeKnown(deps.gateways.runtimeApi(clusterId, gatewayId), routes);
    }
    if (newlyFenced.length > 0) await deps.gateways.stopDraining(clusterId, gatewayId);
  }
  if (newlyFenced.length > 0) {
    deps.log.info({ clusterId, fenced: newlyFenced.map((f) => f.nodeId) }, 'fenced nodes are out of the gateways');
    const allRecorded = gatewayIds.every((id) => state.gateways.some((g) => g.gatewayId === id));
    if (allRecorded && !(await recordFences())) return false;
  }

  const places = await gatewayPlaces(deps, gatewayIds, state, record);
  if (!places) return false;
  // Every gateway at once (a container each on the docker runtime: seconds apart otherwise), then recorded in order.
  await Promise.all(
    gatewayIds.map(async (gatewayId) => {
      await deps.gateways.start(
        {
          clusterId,
          gatewayId,
          ...gatewayBinds(places.get(gatewayId)!, state.exposed, action.readOnly),
          ...(leader ? { leaderNodeId: leader } : {}),
          nodes: action.nodes.map((n) => ({ nodeId: n.nodeId, host: '127.0.0.1', port: n.port })),
          ...(deps.agent ? { agent: deps.agent } : {}),
        },
        { statesAtRuntime: true },
      );
      await deps.gateways.runtimeApi(clusterId, gatewayId).route(routes); // nothing to send when the config says so
    }),
  );
  for (const gatewayId of gatewayIds) {
    const { host, port, readOnlyPort } = places.get(gatewayId)!;
    if (!(await record({ type: 'StartGateway', gatewayId, host, port, readOnlyPort }))) return false;
  }

  // A plan with fewer gateways now (Business -> Starter): the ones beyond it go, once the others serve.
  for (const gatewayId of action.surplus) {
    await deps.gateways.remove(clusterId, gatewayId);
    if (!(await record({ type: 'RemoveGateway', gatewayId }))) return false;
    deps.log.info({ clusterId, gatewayId }, 'gateway removed: the plan has fewer gateways');
  }

  if (!(await recordFences())) return false;
  for (const nodeId of state.fenced.filter((n) => !action.fenced.some((f) => f.nodeId === n))) {
    if (!(await record({ type: 'UnfenceNode', nodeId, gatewayIds }))) return false;
    deps.log.info({ clusterId, nodeId }, 'a fenced node rejoined: the gateways serve it again');
  }
  if (!leader) return true;
  if (!(await record({ type: 'SetGatewayLeader', leader, gatewayIds }))) return false;
  if (state.leader !== leader) deps.log.info({ clusterId, leader }, 'gateways forward to the leader');
  return true;
}

/**
 * Route a running gateway before its reload: nodes its config does not have yet (followers a plan
 * change adds) are left to the reload, which brings them in; a leader it does not have, likewise.
 */
async function routeKnown(api: ReturnType<HaproxyGateways['runtimeApi']>, routes: GatewayRoutes): Promise<void> {
  let readOnly = routes.readOnly;
  for (;;) {
    try {
      await api.route({ ...routes, readOnly });
      return;
    } catch (error) {
      const unknown = error instanceof GatewayError && error.code === 'UNKNOWN_SERVER' ? error.details.name : undefined;
      if (typeof unknown !== 'string' || unknown === routes.leader || !readOnly.includes(unknown)) {
        if (unknown !== undefined) return;
        throw error;
      }
      readOnly = readOnly.filter((n) => n !== unknown);
    }
  }
}
