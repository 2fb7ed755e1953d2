import { findPlan, foldClusterView, placeNodes, streamIds } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import {
  GatewayError,
  type GatewayAgent,
  type GatewayBind,
  type GatewayRoutes,
  type HaproxyGateways,
} from '@pgfleet/gateway';
import type { CommandContext, Logger } from '@pgfleet/kit';
import { freePort } from '@pgfleet/postgres';
import {
  decideGateways,
  gatewayHost,
  type GatewayAction,
  type GatewaysCommand,
  type GatewaysState,
} from '../domain/gateways.js';
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
    case 'ensure':
      return ensureGateways(deps, clusterId, action, state, record);
    default: {
      const never: never = action;
      return never;
    }
  }
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

  const placement = await placeGateways(deps, gatewayIds, state, record);
  if (!placement) return false;
  const addresses = await gatewayAddresses(deps.host ?? '127.0.0.1', gatewayIds, state, placement);
  // Loopback always; the outside address too while the cluster is exposed (TLS forced).
  const bindsOn = (host: string, port: number): GatewayBind[] =>
    state.exposed
      ? [
          { host, port },
          { host: state.exposed.address, port },
        ]
      : [{ host, port }];
  // Every gateway at once (a container each on the docker runtime: seconds apart otherwise), then recorded in order.
  await Promise.all(
    gatewayIds.map(async (gatewayId) => {
      const { host, port, readOnlyPort } = addresses.get(gatewayId)!;
      const placedOn = placement.get(gatewayId);
      await deps.gateways.start(
        {
          clusterId,
          gatewayId,
          ...(placedOn ? { placedOn } : {}),
          ...(leader ? { leaderNodeId: leader } : {}),
          binds: bindsOn(host, port),
          readOnly: { binds: bindsOn(host, readOnlyPort), nodeIds: action.readOnly },
          nodes: action.nodes.map((n) => ({ nodeId: n.nodeId, host: '127.0.0.1', port: n.port })),
          ...(deps.agent ? { agent: deps.agent } : {}),
        },
        { statesAtRuntime: true },
      );
      await deps.gateways.runtimeApi(clusterId, gatewayId).route(routes); // nothing to send when the config says so
    }),
  );
  for (const gatewayId of gatewayIds) {
    if (!(await record({ type: 'StartGateway', gatewayId, ...addresses.get(gatewayId)! }))) return false;
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

/**
 * Where each gateway runs when the gateways have several hosts to run on (`gateways.hosts`):
 * the host recorded (GatewayPlaced), else placement's choice, recorded before it starts there (a
 * Business cluster's two gateways on distinct hosts, least loaded first). A gateway recorded as
 * started before the runtime had hosts stays unplaced, where it runs. Undefined when a placement
 * was refused (another worker placed it meanwhile); an empty map without hosts.
 */
async function placeGateways(
  deps: ReconcileGatewaysDeps,
  gatewayIds: readonly string[],
  state: GatewaysState,
  record: (command: GatewaysCommand) => Promise<boolean>,
): Promise<Map<string, string> | undefined> {
  const placement = new Map(state.placed.map((p) => [p.gatewayId, p.host]));
  const unplaced = gatewayIds.filter((id) => !placement.has(id) && !state.gateways.some((g) => g.gatewayId === id));
  if (!deps.gateways.hosts || unplaced.length === 0) return placement;
  const placed = [...placement].map(([nodeId, host]) => ({ nodeId, host }));
  for (const { nodeId: gatewayId, host } of placeNodes(unplaced, await deps.gateways.hosts.loads(), placed)) {
    if (!(await record({ type: 'PlaceGateway', gatewayId, host }))) return undefined;
    deps.log.info({ gatewayId, host }, 'gateway placed');
    placement.set(gatewayId, host);
  }
  return placement;
}

interface GatewayAddress {
  host: string;
  port: number;
  readOnlyPort: number;
}

/**
 * Each gateway's addresses: the ones recorded for it, else those of a gateway on the same host
 * (gateways of one host share them, SO_REUSEPORT), else free ports on `host`: one address for all
 * the gateways of one machine, one per host when they are placed on distinct hosts.
 */
async function gatewayAddresses(
  host: string,
  gatewayIds: readonly string[],
  state: GatewaysState,
  placement: ReadonlyMap<string, string>,
): Promise<Map<string, GatewayAddress>> {
  const decided = new Map<string, GatewayAddress>();
  const taken = new Set(
    state.gateways.flatMap((g) => [g.port, ...(g.readOnlyPort !== undefined ? [g.readOnlyPort] : [])]),
  );
  const free = async () => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const placedOn = (id: string) => placement.get(id) ?? gatewayHost(state, id);
  for (const gatewayId of gatewayIds) {
    const peers = state.gateways.filter((g) => placedOn(g.gatewayId) === placedOn(gatewayId));
    const known = peers.find((g) => g.gatewayId === gatewayId) ?? peers[0];
    const sibling = [...decided].find(([id]) => placedOn(id) === placedOn(gatewayId))?.[1];
    const readOnlyPort = peers.find((g) => g.readOnlyPort !== undefined)?.readOnlyPort ?? sibling?.readOnlyPort;
    decided.set(gatewayId, {
      host: known?.host ?? sibling?.host ?? host,
      port: known?.port ?? sibling?.port ?? (await free()),
      readOnlyPort: readOnlyPort ?? (await free()),
    });
  }
  return decided;
}
