import { gatewayClaims, gatewayPlacement, placeNodes } from '@pgfleet/contracts';
import type { GatewayBind, GatewaySpec, HaproxyGateways } from '@pgfleet/gateway';
import type { Logger } from '@pgfleet/kit';
import { freePort } from '@pgfleet/postgres';
import type { GatewaysCommand, GatewaysState } from '../domain/gateways.js';

/** Where a gateway runs: its address and ports, and the runtime host it was placed on (several hosts only). */
export interface GatewayPlace {
  host: string;
  port: number;
  readOnlyPort: number;
  placedOn?: string;
}

export interface GatewayPlacesDeps {
  gateways: Pick<HaproxyGateways, 'hosts' | 'prepare'>;
  log: Logger;
  /** The address gateways listen on; default 127.0.0.1. */
  host?: string;
}

/**
 * Where each gateway of `gatewayIds` runs. On a runtime whose gateways are made ahead of their
 * start (`gateways.prepare`: docker) or that has several hosts (`gateways.hosts`), each gateway not
 * placed yet is placed and recorded (PlaceGateway) before anything is made: on the host placement
 * chooses (`placeNodes` over the hosts' gateway loads: a Business cluster's two on distinct hosts,
 * least loaded first), on its addresses. A gateway recorded as started before it was ever placed
 * stays where it runs. Undefined when a placement was refused (another worker placed it meanwhile).
 */
export async function gatewayPlaces(
  deps: GatewayPlacesDeps,
  gatewayIds: readonly string[],
  state: GatewaysState,
  record: (command: GatewaysCommand) => Promise<boolean>,
): Promise<Map<string, GatewayPlace> | undefined> {
  const { hosts, prepare } = deps.gateways;
  const placing = Boolean(hosts ?? prepare);
  const unplaced = placing
    ? gatewayIds.filter((id) => !gatewayPlacement(state, id) && !state.gateways.some((g) => g.gatewayId === id))
    : [];
  const chosen = new Map(state.placed.flatMap((p) => (p.host !== undefined ? [[p.gatewayId, p.host] as const] : [])));
  if (hosts && unplaced.length > 0) {
    const placed = [...chosen].map(([nodeId, host]) => ({ nodeId, host }));
    for (const { nodeId, host } of placeNodes(unplaced, await hosts.loads(), placed)) chosen.set(nodeId, host);
  }
  const placedOn = (id: string) => chosen.get(id);
  const addresses = await gatewayAddresses(deps.host ?? '127.0.0.1', gatewayIds, state, placedOn);
  for (const gatewayId of unplaced) {
    const { host: address, port, readOnlyPort } = addresses.get(gatewayId)!;
    const host = placedOn(gatewayId);
    const placement = { gatewayId, ...(host !== undefined ? { host } : {}), address, port, readOnlyPort };
    if (!(await record({ type: 'PlaceGateway', ...placement }))) return undefined;
    deps.log.info(placement, 'gateway placed');
  }
  return new Map(
    gatewayIds.map((id) => {
      const host = placedOn(id);
      return [id, { ...addresses.get(id)!, ...(host !== undefined ? { placedOn: host } : {}) }];
    }),
  );
}

/** A gateway's address and ports. */
type Address = Omit<GatewayPlace, 'placedOn'>;

/**
 * Each gateway's addresses: the ones it was placed on, else the ones recorded for it, else those
 * of a gateway of the same host (gateways of one host share them, SO_REUSEPORT), else free ports
 * on `host`: one address for all the gateways of one machine, one per host when they are on
 * distinct hosts.
 */
async function gatewayAddresses(
  host: string,
  gatewayIds: readonly string[],
  state: GatewaysState,
  placedOn: (gatewayId: string) => string | undefined,
): Promise<Map<string, Address>> {
  const claimed = gatewayClaims(state);
  const taken = new Set(claimed.flatMap((g) => [g.port, ...(g.readOnlyPort !== undefined ? [g.readOnlyPort] : [])]));
  const free = async () => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const decided = new Map<string, Address>();
  for (const gatewayId of gatewayIds) {
    const placed = gatewayPlacement(state, gatewayId);
    if (placed) {
      decided.set(gatewayId, { host: placed.address, port: placed.port, readOnlyPort: placed.readOnlyPort });
      continue;
    }
    const peers = claimed.filter((g) => placedOn(g.gatewayId) === placedOn(gatewayId));
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

/**
 * The listening part of a gateway's spec: its address and read-only port, on loopback (or the
 * address it was placed on) always, on the outside address too while the cluster is exposed.
 */
export function gatewayBinds(
  place: GatewayPlace,
  exposed: GatewaysState['exposed'],
  readOnlyNodes: string[],
): Pick<GatewaySpec, 'binds' | 'readOnly' | 'placedOn'> {
  const bindsOn = (port: number): GatewayBind[] =>
    exposed
      ? [
          { host: place.host, port },
          { host: exposed.address, port },
        ]
      : [{ host: place.host, port }];
  return {
    ...(place.placedOn !== undefined ? { placedOn: place.placedOn } : {}),
    binds: bindsOn(place.port),
    readOnly: { binds: bindsOn(place.readOnlyPort), nodeIds: readOnlyNodes },
  };
}
