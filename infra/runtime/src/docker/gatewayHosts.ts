import type Docker from 'dockerode';
import type { GatewayHosts, GatewayRef, HaproxyPlace } from '@pgfleet/gateway';
import { gatewayContainersOn } from './gatewayContainers.js';

/** A local Docker host gateways can run on: its name (as GatewayPlaced records it), engine and place. */
export interface GatewayHost {
  name: string;
  docker: Docker;
  place: HaproxyPlace;
}

const keyOf = (ref: GatewayRef) => `${ref.clusterId}/${ref.gatewayId}`;

/**
 * Gateways over several local Docker hosts: each gateway runs on the host placement chose
 * (`placedOn`, GatewayPlaced), in that host's place (its own namespace holder, publishing its own
 * ports); every other call goes to the host holding the gateway's container (remembered, else
 * found by its labels; the first host when there is none). `hosts.loads` counts the gateway
 * containers each host holds, for placement's "least loaded first".
 */
export function gatewaysOnHosts(hosts: readonly GatewayHost[]): { place: HaproxyPlace; hosts: GatewayHosts } {
  if (hosts.length === 0) throw new Error('gateways need at least one host');
  const located = new Map<string, GatewayHost>();
  const find = async (ref: GatewayRef): Promise<GatewayHost> => {
    const known = located.get(keyOf(ref));
    if (known) return known;
    for (const host of hosts) {
      if ((await gatewayContainersOn(host.docker, ref.clusterId, ref.gatewayId)).length > 0) {
        located.set(keyOf(ref), host);
        return host;
      }
    }
    return hosts[0]!;
  };

  const place: HaproxyPlace = {
    async prepare(ref, spec) {
      const host = spec.placedOn === undefined ? await find(ref) : hosts.find((h) => h.name === spec.placedOn);
      if (!host) {
        const names = hosts.map((h) => h.name).join(', ');
        throw new Error(
          `gateway ${ref.gatewayId} is placed on ${spec.placedOn}, not one of the gateway hosts ${names}`,
        );
      }
      located.set(keyOf(ref), host);
      return host.place.prepare ? host.place.prepare(ref, spec) : spec;
    },
    run: async (ref, args) => (await find(ref)).place.run(ref, args),
    processes: async (ref, config) => (await find(ref)).place.processes(ref, config),
    signal: async (ref, pids, signal) => (await find(ref)).place.signal(ref, pids, signal),
    async removed(ref) {
      // Every host: what a host holds of the cluster's gateways goes with the last one there.
      for (const host of hosts) await host.place.removed?.(ref);
      located.delete(keyOf(ref));
    },
  };
  const loads = async () =>
    Promise.all(hosts.map(async (h) => ({ host: h.name, nodes: (await gatewayContainersOn(h.docker)).length })));
  return { place, hosts: { loads } };
}
