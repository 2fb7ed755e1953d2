import {
  entryPoint,
  evolveGateways,
  foldGateways,
  gatewayClaims,
  gatewayHost,
  gatewayIds,
  gatewayPlacement,
  initialGatewaysState,
  readOnlyEntryPoint,
  type ClusterView,
  type GatewayClaim,
  type GatewayEvent,
  type GatewaysState,
} from '@pgfleet/contracts';
import { accept, reject, type Decider, type Decision } from '@pgfleet/kit';
import { tlsNotForced } from './tls.js';

export { entryPoint, foldGateways, gatewayIds, initialGatewaysState, readOnlyEntryPoint };
export type { GatewayEvent, GatewaysState };

// ---- what the worker should do ----------------------------------------------------------------

/** A node a failover fenced, and the failover's term when the cluster's last failover was the one. */
interface FencedNode {
  nodeId: string;
  term?: number;
}

export type GatewayAction =
  | {
      kind: 'ensure';
      gatewayIds: string[];
      /** The node taking writes; none while a failover fenced the leader and promoted nobody yet. */
      leader?: string;
      /** The nodes the read-only endpoint serves (round robin): every node but the leader and the fenced. */
      readOnly: string[];
      /** Out of every endpoint, their sessions cut, until they rejoined (NodeRejoined). */
      fenced: FencedNode[];
      nodes: { nodeId: string; port: number }[];
      /** Gateways recorded beyond the plan's (it has fewer now): stopped and removed. */
      surplus: string[];
    }
  /** The cluster is being provisioned: its gateways can be placed and made ahead of their start. */
  | { kind: 'prepare'; gatewayIds: string[] }
  | { kind: 'remove'; gatewayIds: string[] }
  | { kind: 'none' };

/**
 * What the gateways of a cluster should be, given the cluster and what was recorded. Pure.
 * A cluster being provisioned: its gateways prepared (made ahead of their start, where the runtime
 * does that). A ready cluster: every gateway of its plan running, writes to the leader, reads to the other
 * nodes; a node a failover fenced (FailoverStarted) takes neither until it rejoined, even when a
 * LeaderChanged names it. A deleted (or deleting) cluster: no gateway. Anything else: leave them
 * as they are.
 */
export function decideGateways(
  cluster: Pick<ClusterView, 'status' | 'leader' | 'nodes' | 'lastFailover'>,
  gatewayCount: number,
  state: GatewaysState,
): GatewayAction {
  if (cluster.status === 'deleted' || cluster.status === 'deleting') {
    return state.removed ? { kind: 'none' } : { kind: 'remove', gatewayIds: gatewayIds(gatewayCount) };
  }
  if (cluster.status === 'provisioning' && !state.removed)
    return { kind: 'prepare', gatewayIds: gatewayIds(gatewayCount) };
  if (cluster.status !== 'ready' || !cluster.leader) return { kind: 'none' };
  const nodes = cluster.nodes.flatMap((n) => (n.port !== undefined ? [{ nodeId: n.nodeId, port: n.port }] : []));
  if (!nodes.some((n) => n.nodeId === cluster.leader)) return { kind: 'none' };
  const last = cluster.lastFailover;
  const fenced = cluster.nodes
    .filter((n) => n.fenced)
    .map((n) => (last?.from === n.nodeId ? { nodeId: n.nodeId, term: last.term } : { nodeId: n.nodeId }));
  const isFenced = (nodeId: string) => fenced.some((f) => f.nodeId === nodeId);
  const wanted = gatewayIds(gatewayCount);
  return {
    kind: 'ensure',
    gatewayIds: wanted,
    surplus: state.gateways.map((g) => g.gatewayId).filter((id) => !wanted.includes(id)),
    ...(isFenced(cluster.leader) ? {} : { leader: cluster.leader }),
    readOnly: nodes.filter((n) => n.nodeId !== cluster.leader && !isFenced(n.nodeId)).map((n) => n.nodeId),
    fenced,
    nodes,
  };
}

// ---- commands on `gateway-{clusterId}` --------------------------------------------------------

/**
 * Everything recorded on a cluster's gateway stream. The reconciliation worker's outcomes
 * (`StartGateway`, `SetGatewayLeader`, `FenceNode`, `UnfenceNode`, `RemoveGateways`) and the
 * commands' outcomes, sent once the nodes were touched (`ForceTls`, `RotateCertificates`), are
 * decided like the user's (`Expose`, `Unexpose`): against the current state, so a repeat or a
 * stale worker records nothing.
 */
export type GatewaysCommand =
  /**
   * Where the gateway will run, before it is made: its address and ports, and the runtime host
   * placement chose (a runtime with several hosts).
   */
  | { type: 'PlaceGateway'; gatewayId: string; host?: string; address: string; port: number; readOnlyPort: number }
  /**
   * A gateway runs on the address its host's gateways share (and serves reads on `readOnlyPort`):
   * the cluster's one address, unless placement put its gateways on distinct hosts.
   */
  | { type: 'StartGateway'; gatewayId: string; host: string; port: number; readOnlyPort?: number }
  /** Every running gateway forwards to this leader. */
  | { type: 'SetGatewayLeader'; leader: string; gatewayIds: string[] }
  /** Every gateway took this node out (a failover fenced it) and cut its sessions. */
  | { type: 'FenceNode'; nodeId: string; term?: number; gatewayIds: string[] }
  /** The node rejoined as a follower: every gateway serves it again. */
  | { type: 'UnfenceNode'; nodeId: string; gatewayIds: string[] }
  /** The cluster is deleted and its gateways are gone. */
  | { type: 'RemoveGateways'; gatewayIds: string[] }
  /** The plan has fewer gateways now: this one is stopped and gone. */
  | { type: 'RemoveGateway'; gatewayId: string }
  /** These nodes were reconfigured to accept TLS only. */
  | { type: 'ForceTls'; nodes: string[] }
  /** These nodes were given new certificates, valid until `notAfter`. */
  | { type: 'RotateCertificates'; nodes: string[]; notAfter: string }
  /** The automatic renewal of this node's certificate (valid until `notAfter`) failed, for `reason`. */
  | { type: 'WarnCertificateExpiring'; clusterId: string; nodeId: string; notAfter: string; reason: string }
  /** Open the cluster on `address` (the node certificates already name it). */
  | { type: 'Expose'; address: string; clusterName?: string }
  /** Back to loopback only. */
  | { type: 'Unexpose' };

type GatewaysDecision = Decision<GatewayEvent>;
type CommandOf<T extends GatewaysCommand['type']> = Extract<GatewaysCommand, { type: T }>;

const removedAlready = (): GatewaysDecision =>
  reject('NOT_READY', 'the gateways of this cluster were removed: it is deleted', { field: 'clusterId' });

/**
 * A gateway's addresses are decided once: the gateways of one runtime host share the address (and
 * read-only port) claimed first there; a gateway of another host (GatewayPlaced) has its own,
 * which no gateway of another host may also claim. Undefined: `claim` keeps to that.
 */
function refusedAddress(
  claim: GatewayClaim,
  runtimeHost: string | undefined,
  state: GatewaysState,
): GatewaysDecision | undefined {
  const all = gatewayClaims(state);
  const here = all.filter((g) => gatewayHost(state, g.gatewayId) === runtimeHost);
  const entry = here[0];
  if (entry && (entry.host !== claim.host || entry.port !== claim.port)) {
    const message = `the gateways of this cluster serve ${entry.host}:${entry.port}, not ${claim.host}:${claim.port}`;
    return reject('ENTRY_POINT_RECORDED', message, { field: 'port', host: entry.host, port: entry.port });
  }
  const readOnly = here.find((g) => g.readOnlyPort !== undefined)?.readOnlyPort;
  if (readOnly !== undefined && claim.readOnlyPort !== readOnly) {
    const message = `the read-only endpoint of this cluster is on port ${readOnly}, not ${claim.readOnlyPort}`;
    return reject('ENTRY_POINT_RECORDED', message, { field: 'readOnlyPort', port: readOnly });
  }
  const wanted = [claim.port, ...(claim.readOnlyPort !== undefined ? [claim.readOnlyPort] : [])];
  const taken = all.find(
    (g) =>
      !here.includes(g) &&
      g.host === claim.host &&
      [g.port, g.readOnlyPort].some((p) => p !== undefined && wanted.includes(p)),
  );
  if (!taken) return undefined;
  const ports = wanted.join(', ');
  const message = `gateway ${taken.gatewayId}, on another host, already serves a port of ${claim.host}:${ports}`;
  return reject('ENTRY_POINT_TAKEN', message, { field: 'port', gatewayId: taken.gatewayId });
}

function decidePlace(cmd: CommandOf<'PlaceGateway'>, state: GatewaysState): GatewaysDecision {
  if (state.removed) return removedAlready();
  const { gatewayId, host, address, port, readOnlyPort } = cmd;
  const placed = gatewayPlacement(state, gatewayId);
  if (placed) {
    const same =
      placed.host === host &&
      placed.address === address &&
      placed.port === port &&
      placed.readOnlyPort === readOnlyPort;
    if (same) return accept();
    const where = `${placed.host ? `${placed.host}, ` : ''}${placed.address}:${placed.port}`;
    return reject('GATEWAY_PLACED', `gateway ${gatewayId} is placed on ${where}`, { field: 'host', host: placed.host });
  }
  if (state.gateways.some((g) => g.gatewayId === gatewayId)) {
    const message = `gateway ${gatewayId} already runs where it was started: it is not placed again`;
    return reject('GATEWAY_PLACED', message, { field: 'gatewayId' });
  }
  const refused = refusedAddress({ gatewayId, host: address, port, readOnlyPort }, host, state);
  if (refused) return refused;
  const data = { gatewayId, ...(host !== undefined ? { host } : {}), address, port, readOnlyPort };
  return accept({ type: 'GatewayPlaced', data });
}

/** A gateway starts on the address it was placed on, else on the one its host's gateways share (`refusedAddress`). */
function decideStart(cmd: CommandOf<'StartGateway'>, state: GatewaysState): GatewaysDecision {
  if (state.removed) return removedAlready();
  const known = state.gateways.find((g) => g.gatewayId === cmd.gatewayId);
  const sameReadOnly = cmd.readOnlyPort === undefined || known?.readOnlyPort === cmd.readOnlyPort;
  if (known && known.host === cmd.host && known.port === cmd.port && sameReadOnly) return accept();
  const placed = gatewayPlacement(state, cmd.gatewayId);
  const readOnlyMoved = cmd.readOnlyPort !== undefined && cmd.readOnlyPort !== placed?.readOnlyPort;
  if (placed && (placed.address !== cmd.host || placed.port !== cmd.port || readOnlyMoved)) {
    const where = `${placed.address}:${placed.port} (read-only ${placed.readOnlyPort})`;
    const message = `gateway ${cmd.gatewayId} was placed on ${where}`;
    return reject('ENTRY_POINT_RECORDED', message, { field: 'port', host: placed.address, port: placed.port });
  }
  const refused = refusedAddress(cmd, gatewayHost(state, cmd.gatewayId), state);
  if (refused) return refused;
  const { gatewayId, host, port, readOnlyPort } = cmd;
  return accept({
    type: 'GatewayStarted',
    data: { gatewayId, host, port, ...(readOnlyPort !== undefined ? { readOnlyPort } : {}) },
  });
}

/** Refused unless every gateway named is recorded as started (and at least one is named). */
function notStarted(gatewayIds: readonly string[], state: GatewaysState): GatewaysDecision | undefined {
  const missing = gatewayIds.filter((id) => !state.gateways.some((g) => g.gatewayId === id));
  if (missing.length === 0 && gatewayIds.length > 0) return undefined;
  const names = missing.join(', ') || '(none)';
  return reject('GATEWAY_NOT_STARTED', `gateway ${names} is not recorded as started`, { field: 'gatewayIds' });
}

function decideLeader(cmd: CommandOf<'SetGatewayLeader'>, state: GatewaysState): GatewaysDecision {
  if (state.removed) return removedAlready();
  const refused = notStarted(cmd.gatewayIds, state);
  if (refused) return refused;
  if (state.fenced.includes(cmd.leader)) {
    const message = `node ${cmd.leader} is fenced: the gateways forward nothing to it before it rejoined`;
    return reject('NODE_FENCED', message, { field: 'leader' });
  }
  if (state.leader === cmd.leader) return accept();
  return accept({ type: 'GatewayLeaderSet', data: { leader: cmd.leader, gatewayIds: cmd.gatewayIds } });
}

function decideFence(cmd: CommandOf<'FenceNode'>, state: GatewaysState): GatewaysDecision {
  if (state.removed) return removedAlready();
  const refused = notStarted(cmd.gatewayIds, state);
  if (refused) return refused;
  if (state.fenced.includes(cmd.nodeId)) return accept();
  const { nodeId, term, gatewayIds } = cmd;
  return accept({
    type: 'GatewayNodeFenced',
    data: { nodeId, ...(term !== undefined ? { term } : {}), gatewayIds },
  });
}

function decideUnfence(cmd: CommandOf<'UnfenceNode'>, state: GatewaysState): GatewaysDecision {
  if (!state.fenced.includes(cmd.nodeId)) return accept();
  const refused = notStarted(cmd.gatewayIds, state);
  if (refused) return refused;
  return accept({ type: 'GatewayNodeUnfenced', data: { nodeId: cmd.nodeId, gatewayIds: cmd.gatewayIds } });
}

function decideExposeCommand(cmd: CommandOf<'Expose'>, state: GatewaysState): GatewaysDecision {
  if (state.removed) return removedAlready();
  const entry = entryPoint(state);
  if (!entry) return reject('NOT_READY', 'the cluster has no gateway yet', { field: 'clusterId' });
  if (!state.tlsForced) return { ok: false, rejection: tlsNotForced(cmd.clusterName) };
  if (state.exposed?.address === cmd.address) return accept();
  return accept({ type: 'ClusterExposed', data: { address: cmd.address, port: entry.port } });
}

export function decideGatewaysCommand(cmd: GatewaysCommand, state: GatewaysState): GatewaysDecision {
  switch (cmd.type) {
    case 'PlaceGateway':
      return decidePlace(cmd, state);
    case 'StartGateway':
      return decideStart(cmd, state);
    case 'SetGatewayLeader':
      return decideLeader(cmd, state);
    case 'FenceNode':
      return decideFence(cmd, state);
    case 'UnfenceNode':
      return decideUnfence(cmd, state);
    case 'RemoveGateways':
      if (state.removed) return accept();
      return accept({ type: 'GatewaysRemoved', data: { gatewayIds: cmd.gatewayIds } });
    case 'RemoveGateway':
      if (!state.gateways.some((g) => g.gatewayId === cmd.gatewayId)) return accept();
      return accept({ type: 'GatewayRemoved', data: { gatewayId: cmd.gatewayId } });
    case 'ForceTls':
      if (state.tlsForced) return accept();
      if (state.removed) return removedAlready();
      return accept({ type: 'TlsForced', data: { nodes: cmd.nodes } });
    case 'RotateCertificates':
      if (state.removed) return removedAlready();
      return accept({ type: 'CertificatesRotated', data: { nodes: cmd.nodes, notAfter: cmd.notAfter } });
    case 'WarnCertificateExpiring': {
      if (state.removed) return removedAlready();
      const { clusterId, nodeId, notAfter, reason } = cmd;
      const known = state.expiring.find((w) => w.nodeId === nodeId);
      if (known?.notAfter === notAfter && known.reason === reason) return accept(); // once per failure
      return accept({ type: 'CertificateExpiring', data: { clusterId, nodeId, notAfter, reason } });
    }
    case 'Expose':
      return decideExposeCommand(cmd, state);
    case 'Unexpose':
      if (state.version_ === 0) {
        return reject('CLUSTER_NOT_FOUND', 'no such cluster (or it has no gateway yet)', { field: 'clusterId' });
      }
      if (!state.exposed) return accept();
      return accept({ type: 'ClusterUnexposed', data: {} });
    default: {
      const never: never = cmd;
      return never;
    }
  }
}

/** The `gateway-{clusterId}` aggregate: its state is the contracts' gateways view, folded by `evolveGateways`. */
export const gatewaysDecider: Decider<GatewaysState, GatewaysCommand, GatewayEvent> = {
  initialState: initialGatewaysState(),
  evolve: evolveGateways,
  decide: decideGatewaysCommand,
};
