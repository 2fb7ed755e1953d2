import { deciderSpec } from '@pgfleet/kit/testing';
import { describe, expect, it } from 'vitest';
import { namesDecider, type NamesEvent } from './names.js';

const spec = deciderSpec(namesDecider);

describe('names aggregate', () => {
  it('a name is unique per account until released', () => {
    const name = { accountId: 'acme', name: 'prod-db', clusterId: 'c1' };
    const reserved = spec
      .given([])
      .when({ type: 'ReserveName', ...name })
      .then([{ type: 'ClusterNameReserved', data: name }]);
    const taken = spec
      .given(reserved)
      .when({ type: 'ReserveName', ...name, clusterId: 'c2' })
      .thenRejects('NAME_TAKEN');
    expect(taken.details).toMatchObject({ field: 'name' });
    spec
      .given(reserved)
      .when({ type: 'ReserveName', ...name })
      .then([]);
    const released = spec
      .given(reserved)
      .when({ type: 'ReleaseName', ...name })
      .then([{ type: 'ClusterNameReleased', data: name }]);
    spec
      .given([...reserved, ...released])
      .when({ type: 'ReserveName', ...name, clusterId: 'c2' })
      .then([{ type: 'ClusterNameReserved', data: { ...name, clusterId: 'c2' } }]);
  });

  it('releasing a name another cluster holds records nothing', () => {
    const held: NamesEvent[] = [
      { type: 'ClusterNameReserved', data: { accountId: 'acme', name: 'prod-db', clusterId: 'c1' } },
    ];
    spec.given(held).when({ type: 'ReleaseName', accountId: 'acme', name: 'prod-db', clusterId: 'c2' }).then([]);
  });
});
