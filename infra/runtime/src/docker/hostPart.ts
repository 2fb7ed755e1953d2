import type Docker from 'dockerode';
import type { NodeEndpoint, NodeInfo, NodeRuntime, PeerAddress } from '../port.js';
import { bridgeName, ensureNetwork, removeNetworkIfUnused } from './containers.js';
import type { NetworkIsolation } from './isolation.js';

/** A node's container on whichever host holds it, started. */
interface HostedNode {
  docker: Docker;
  c: Docker.Container;
  info: NodeInfo;
}

/** The docker driver, and each node's container on its host (what the multi-host runtime needs). */
export interface DockerNodeRuntime extends NodeRuntime {
  /** The node's container, started (NODE_NOT_FOUND without one). */
  container(nodeId: string): Promise<HostedNode>;
}

/**
 * One host's part in a multi-host docker runtime (`multiHost.ts`): what a host's driver does
 * differently when the cluster's nodes may be on other hosts too.
 */
export interface DockerHostPart {
  /** The cluster's bridge on this host (one per host: several hosts may share one kernel). */
  bridge(clusterId: string): string;
  /** The cluster's bridges of the other hosts on this machine: isolation lets them reach this one. */
  siblings(clusterId: string): string[];
  /** Where a node's port is published (only there): the host's advertised address. */
  publishOn: readonly string[];
  /** What pg_hba lets in besides the cluster network (CIDR): every host's advertised address. */
  peers: readonly string[];
  /** The nodes of every host: a cold copy's source, a rewind's source. */
  nodes: {
    up(nodeId: string): Promise<HostedNode>;
    endpoint(nodeId: string): Promise<NodeEndpoint>;
    peerAddress(nodeId: string): Promise<PeerAddress>;
    /** The node (on any host) whose host name (`nodeHostName`) this is. */
    named(hostName: string): Promise<string | undefined>;
  };
}

/**
 * The cluster networks of one host's driver: each cluster's bridge (one per host on a multi-host
 * runtime) and its isolation, the same cluster's bridges of the other local hosts let in.
 */
export function hostNetworks(docker: Docker, isolation: NetworkIsolation, part: DockerHostPart | undefined) {
  const of = (clusterId: string) => {
    const siblings = part?.siblings(clusterId) ?? [];
    return {
      bridge: part?.bridge(clusterId) ?? bridgeName(clusterId),
      isolation: { add: (b: string) => isolation.add(b, siblings), remove: isolation.remove },
    };
  };
  return {
    ensure: (clusterId: string) => {
      const { bridge, isolation: own } = of(clusterId);
      return ensureNetwork(docker, clusterId, own, bridge);
    },
    /** The cluster's isolation made again (gone after a reboot of the host). */
    isolate: (clusterId: string) => {
      const { bridge, isolation: own } = of(clusterId);
      return own.add(bridge);
    },
    removeIfUnused: (clusterId: string) => {
      const { bridge, isolation: own } = of(clusterId);
      return removeNetworkIfUnused(docker, clusterId, own, bridge);
    },
  };
}
