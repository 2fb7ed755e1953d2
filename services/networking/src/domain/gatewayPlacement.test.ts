import { describe, expect, it } from 'vitest';
import { entryPoints, gatewayHost, readOnlyEntryPoints } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { foldGateways, gatewaysDecider, type GatewayEvent, type GatewaysCommand } from './gateways.js';

/** Gateways placed on distinct hosts of a runtime (GatewayPlaced), each with its own address. */
const spec = deciderSpec(gatewaysDecider);
/** gw1 on 127.0.0.1:7000 (read-only 7001), gw2 on 7002 (7003), unless told. */
const at = (gatewayId: string) => (gatewayId === 'gw1' ? [7000, 7001] : [7002, 7003]) as [number, number];
const placed = (gatewayId: string, host?: string, [port, readOnlyPort] = at(gatewayId)): GatewayEvent => ({
  type: 'GatewayPlaced',
  data: { gatewayId, ...(host !== undefined ? { host } : {}), address: '127.0.0.1', port, readOnlyPort },
});
const started = (gatewayId: string, port: number, readOnlyPort: number): GatewayEvent => ({
  type: 'GatewayStarted',
  data: { gatewayId, host: '127.0.0.1', port, readOnlyPort },
});
const place = (gatewayId: string, host?: string, [port, readOnlyPort] = at(gatewayId)): GatewaysCommand => ({
  type: 'PlaceGateway',
  gatewayId,
  ...(host !== undefined ? { host } : {}),
  address: '127.0.0.1',
  port,
  readOnlyPort,
});
const start = (gatewayId: string, port: number, readOnlyPort: number): GatewaysCommand => ({
  type: 'StartGateway',
  gatewayId,
  host: '127.0.0.1',
  port,
  readOnlyPort,
});
const onTwoHosts = [placed('gw1', 'a'), placed('gw2', 'b')];

describe('gateway placement', () => {
  it('is recorded once; the same host again records nothing; another host is refused', () => {
    spec
      .given([])
      .when(place('gw1', 'a'))
      .then([placed('gw1', 'a')]);
    spec
      .given([placed('gw1', 'a')])
      .when(place('gw1', 'a'))
      .then([]);
    spec
      .given([placed('gw1', 'a')])
      .when(place('gw1', 'b'))
      .thenRejects('GATEWAY_PLACED', /gw1 is placed on a, 127\.0\.0\.1:7000/);
    spec
      .given([placed('gw1', 'a')])
      .when(place('gw1', 'a', [7004, 7001]))
      .thenRejects('GATEWAY_PLACED', /placed on a, 127\.0\.0\.1:7000/);
  });

  it('one host (no host named): the gateways are placed on one address, which their starts keep to', () => {
    spec
      .given([placed('gw1')])
      .when(place('gw2', undefined, [7000, 7001]))
      .then([placed('gw2', undefined, [7000, 7001])]);
    spec
      .given([placed('gw1')])
      .when(place('gw2'))
      .thenRejects('ENTRY_POINT_RECORDED', /serve 127\.0\.0\.1:7000, not 127\.0\.0\.1:7002/);
    spec
      .given([placed('gw1')])
      .when(start('gw1', 7000, 7001))
      .then([started('gw1', 7000, 7001)]);
    spec
      .given([placed('gw1')])
      .when(start('gw1', 7000, 7005))
      .thenRejects('ENTRY_POINT_RECORDED', /gw1 was placed on 127\.0\.0\.1:7000 \(read-only 7001\)/);
  });

  it('a gateway already started where it is is not placed again, nor one of a deleted cluster', () => {
    spec
      .given([started('gw1', 7000, 7001)])
      .when(place('gw1', 'a'))
      .thenRejects('GATEWAY_PLACED', /already runs where it was started/);
    spec
      .given([{ type: 'GatewaysRemoved', data: { gatewayIds: ['gw1'] } }])
      .when(place('gw1', 'a'))
      .thenRejects('NOT_READY', /removed/);
  });

  it('gateways on distinct hosts each have their own address, recorded once', () => {
    spec
      .given([...onTwoHosts, started('gw1', 7000, 7001)])
      .when(start('gw2', 7002, 7003))
      .then([started('gw2', 7002, 7003)]);
    spec
      .given([...onTwoHosts, started('gw1', 7000, 7001), started('gw2', 7002, 7003)])
      .when(start('gw2', 7004, 7005))
      .thenRejects('ENTRY_POINT_RECORDED', /gw2 was placed on 127\.0\.0\.1:7002/);
  });

  it('a gateway of another host claiming a port of the same address is refused, placed or started', () => {
    spec
      .given([placed('gw1', 'a')])
      .when(place('gw2', 'b', [7000, 7003]))
      .thenRejects('ENTRY_POINT_TAKEN', /gw1, on another host/);
    // A gateway started before the runtime placed gateways runs apart from those placed since.
    spec
      .given([placed('gw1', 'a'), started('gw1', 7000, 7001)])
      .when(start('gw2', 7000, 7003))
      .thenRejects('ENTRY_POINT_TAKEN', /gw1, on another host/);
    spec
      .given([placed('gw1', 'a'), started('gw1', 7000, 7001)])
      .when(start('gw2', 7002, 7001))
      .thenRejects('ENTRY_POINT_TAKEN', /gw1/);
  });

  it('gateways placed on one host share its address', () => {
    spec
      .given([placed('gw1', 'a'), started('gw1', 7000, 7001)])
      .when(place('gw2', 'a'))
      .thenRejects('ENTRY_POINT_RECORDED', /serve 127\.0\.0\.1:7000/);
  });

  it('the entry points are every distinct address, in gateway order; a removed gateway loses its placement', () => {
    const state = foldGateways([...onTwoHosts, started('gw2', 7002, 7003), started('gw1', 7000, 7001)]);
    expect(entryPoints(state)).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: '127.0.0.1', port: 7002 },
    ]);
    expect(readOnlyEntryPoints(state).map((a) => a.port)).toEqual([7001, 7003]);
    expect(gatewayHost(state, 'gw2')).toBe('b');
    const shrunk = foldGateways([
      ...onTwoHosts,
      started('gw1', 7000, 7001),
      started('gw2', 7002, 7003),
      { type: 'GatewayRemoved', data: { gatewayId: 'gw2' } },
    ]);
    expect(entryPoints(shrunk)).toEqual([{ host: '127.0.0.1', port: 7000 }]);
    expect(gatewayHost(shrunk, 'gw2')).toBeUndefined();
  });

  it('gateways sharing one address give one entry point', () => {
    const state = foldGateways([started('gw1', 7000, 7001), started('gw2', 7000, 7001)]);
    expect(entryPoints(state)).toEqual([{ host: '127.0.0.1', port: 7000 }]);
  });
});
