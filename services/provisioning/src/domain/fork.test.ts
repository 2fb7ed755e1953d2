import { deciderSpec } from '@pgfleet/kit/testing';
import { describe, expect, it } from 'vitest';
import { clusterDecider, type CreateClusterCommand } from './cluster.js';

const create: CreateClusterCommand = {
  type: 'CreateCluster',
  clusterId: 'fork-1a2b',
  name: 'fork-db',
  accountId: 'acme',
  plan: 'starter-512',
  version: 15,
  dataNodes: 1,
  secretRef: 'cluster/fork-1a2b/app',
};
const spec = deciderSpec(clusterDecider);

describe('cluster aggregate: a cluster created from an archive', () => {
  it('given no history, when CreateCluster from an archive, then ClusterRequested records where it comes from', () => {
    const restoreFrom = { clusterId: 'prod-9f9f', targetTime: '2026-11-30T10:15:00+01:00' };
    spec
      .given([])
      .when({ ...create, restoreFrom })
      .then([{ type: 'ClusterRequested', data: expect.objectContaining({ restoreFrom }) }]);
  });

  it('given no history, when CreateCluster without one, then ClusterRequested has no restoreFrom', () => {
    const [plain] = spec
      .given([])
      .when(create)
      .then([{ type: 'ClusterRequested', data: expect.anything() }]);
    expect(plain?.data).not.toHaveProperty('restoreFrom');
  });
});
