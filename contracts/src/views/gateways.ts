import type { EventEnvelope, EventOfType } from '../index.js';

/** The gateways view: the gateways networking runs for one cluster, folded from its
 * `gateway-{clusterId}` stream. Pure; networking's decider and the API both fold with it. */
export interface GatewaysState {
  /** Started and not removed, by gateway id; `readOnlyPort` once recorded (absent in older events). */
  gateways: { gatewayId: string; host: string; port: number; readOnlyPort?: number }[];
  /**
   * Where each gateway was placed before it was made (GatewayPlaced; runtimes whose gateways are
   * made ahead of their start): the runtime host (several hosts only), the address and ports.
   */
  placed: GatewayPlacement[];
  /** The node every gateway forwards to, as last recorded; none while a failover fenced it. */
  leader?: string;
  /** Nodes every gateway keeps out since a failover fenced them, until they rejoined. */
  fenced: string[];
  removed: boolean;
  /** Only TLS over TCP is accepted on the cluster's nodes. */
  tlsForced: boolean;
  /** The non-loopback address the gateways also listen on, while the cluster is exposed. */
  exposed?: { address: string; port: number };
  /** Nodes whose certificate renewal failed (CertificateExpiring), until their next rotation. */
  expiring: { nodeId: string; notAfter: string; reason: string }[];
  /** Number of events folded: the expected version for the next append. */
  version_: number;
}

export interface GatewayPlacement {
  gatewayId: string;
  host?: string;
  address: string;
  port: number;
  readOnlyPort: number;
}

export const initialGatewaysState = (): GatewaysState => ({
  gateways: [],
  placed: [],
  fenced: [],
  removed: false,
  tlsForced: false,
  expiring: [],
  version_: 0,
});

export type GatewayEvent = EventOfType<
  | 'GatewayPlaced'
  | 'GatewayStarted'
  | 'GatewayLeaderSet'
  | 'GatewayRemoved'
  | 'GatewayNodeFenced'
  | 'GatewayNodeUnfenced'
  | 'GatewaysRemoved'
  | 'TlsForced'
  | 'CertificatesRotated'
  | 'CertificateExpiring'
  | 'ClusterExposed'
  | 'ClusterUnexposed'
>;

export type FoldableGatewayEvent = GatewayEvent | (EventEnvelope & GatewayEvent);

const GATEWAY_EVENT_TYPES: ReadonlySet<string> = new Set<GatewayEvent['type']>([
  'GatewayPlaced',
  'GatewayStarted',
  'GatewayLeaderSet',
  'GatewayRemoved',
  'GatewayNodeFenced',
  'GatewayNodeUnfenced',
  'GatewaysRemoved',
  'TlsForced',
  'CertificatesRotated',
  'CertificateExpiring',
  'ClusterExposed',
  'ClusterUnexposed',
]);

export const isGatewayEvent = (event: { type: string }): event is GatewayEvent => GATEWAY_EVENT_TYPES.has(event.type);

export function evolveGateways(state: GatewaysState, event: FoldableGatewayEvent): GatewaysState {
  const next = { ...state, version_: state.version_ + 1 };
  switch (event.type) {
    case 'GatewayPlaced': {
      const { gatewayId, host, address, port, readOnlyPort } = event.data;
      const placement = { gatewayId, ...(host !== undefined ? { host } : {}), address, port, readOnlyPort };
      return { ...next, placed: [...next.placed.filter((p) => p.gatewayId !== gatewayId), placement] };
    }
    case 'GatewayStarted': {
      const d = event.data;
      return {
        ...next,
        removed: false,
        gateways: [
          ...next.gateways.filter((g) => g.gatewayId !== d.gatewayId),
          {
            gatewayId: d.gatewayId,
            host: d.host,
            port: d.port,
            ...(d.readOnlyPort !== undefined ? { readOnlyPort: d.readOnlyPort } : {}),
          },
        ],
      };
    }
    case 'GatewayLeaderSet':
      return { ...next, leader: event.data.leader };
    case 'GatewayRemoved': {
      const gone = event.data.gatewayId;
      return {
        ...next,
        gateways: next.gateways.filter((g) => g.gatewayId !== gone),
        placed: next.placed.filter((p) => p.gatewayId !== gone),
      };
    }
    case 'GatewayNodeFenced': {
      const { nodeId } = event.data;
      return {
        ...next,
        fenced: next.fenced.includes(nodeId) ? next.fenced : [...next.fenced, nodeId],
        leader: next.leader === nodeId ? undefined : next.leader,
      };
    }
    case 'GatewayNodeUnfenced':
      return { ...next, fenced: next.fenced.filter((n) => n !== event.data.nodeId) };
    case 'TlsForced':
      return { ...next, tlsForced: true };
    case 'ClusterExposed': {
      const d = event.data;
      return { ...next, exposed: { address: d.address, port: d.port } };
    }
    case 'ClusterUnexposed':
      return { ...next, exposed: undefined };
    case 'GatewaysRemoved':
      return { ...next, gateways: [], placed: [], leader: undefined, fenced: [], removed: true, exposed: undefined };
    case 'CertificatesRotated': {
      const renewed = new Set(event.data.nodes);
      return { ...next, expiring: next.expiring.filter((w) => !renewed.has(w.nodeId)) };
    }
    case 'CertificateExpiring': {
      const { nodeId, notAfter, reason } = event.data;
      return { ...next, expiring: [...next.expiring.filter((w) => w.nodeId !== nodeId), { nodeId, notAfter, reason }] };
    }
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** Fold a gateway stream; events of other types are skipped. */
export function foldGateways(events: readonly { type: string }[]): GatewaysState {
  let state = initialGatewaysState();
  for (const e of events) if (isGatewayEvent(e)) state = evolveGateways(state, e);
  return state;
}

/** Gateway ids of a cluster: `gw1` (and `gw2` on plans with two gateways). */
export const gatewayIds = (count: number) => Array.from({ length: count }, (_, i) => `gw${i + 1}`);

/** The address the cluster's gateways serve: the one recorded, else none yet (the worker picks a free port once). */
export function entryPoint(state: GatewaysState): { host: string; port: number } | undefined {
  return entryPoints(state)[0];
}

const byGatewayId = (state: GatewaysState) =>
  [...state.gateways].sort((a, b) => a.gatewayId.localeCompare(b.gatewayId));
const distinct = (addresses: { host: string; port: number }[]) =>
  addresses.filter((a, i) => addresses.findIndex((b) => b.host === a.host && b.port === a.port) === i);

/**
 * Every address the cluster's gateways serve, in gateway order: one when they share it (one host),
 * one per gateway when placement put them on distinct hosts (the URL names them all).
 */
export function entryPoints(state: GatewaysState): { host: string; port: number }[] {
  return distinct(byGatewayId(state).map((g) => ({ host: g.host, port: g.port })));
}

/** Every address of the read-only endpoint, in gateway order (see `entryPoints`). */
export function readOnlyEntryPoints(state: GatewaysState): { host: string; port: number }[] {
  return distinct(
    byGatewayId(state).flatMap((g) => (g.readOnlyPort !== undefined ? [{ host: g.host, port: g.readOnlyPort }] : [])),
  );
}

/** The runtime host a gateway was placed on (GatewayPlaced), if the runtime has several. */
export const gatewayHost = (state: GatewaysState, gatewayId: string): string | undefined =>
  gatewayPlacement(state, gatewayId)?.host;

/** An address and ports a gateway serves, or will. */
export interface GatewayClaim {
  gatewayId: string;
  host: string;
  port: number;
  readOnlyPort?: number;
}

/** What every gateway serves, or will: as started (GatewayStarted), else as placed (GatewayPlaced). */
export function gatewayClaims(state: GatewaysState): GatewayClaim[] {
  const placedOnly = state.placed.filter((p) => !state.gateways.some((g) => g.gatewayId === p.gatewayId));
  return [
    ...state.gateways,
    ...placedOnly.map((p) => ({ gatewayId: p.gatewayId, host: p.address, port: p.port, readOnlyPort: p.readOnlyPort })),
  ];
}

/** Where a gateway was placed (GatewayPlaced), if it was. */
export const gatewayPlacement = (state: GatewaysState, gatewayId: string): GatewayPlacement | undefined =>
  state.placed.find((p) => p.gatewayId === gatewayId);

/**
 * The address of the cluster's read-only endpoint (the followers, round robin): the entry point's
 * host on the recorded read-only port, else none yet (gateways recorded before it existed get one
 * at their next reconciliation).
 */
export function readOnlyEntryPoint(state: GatewaysState): { host: string; port: number } | undefined {
  return readOnlyEntryPoints(state)[0];
}
