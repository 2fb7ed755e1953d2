import { describe, expect, it } from 'vitest';
import type { ClusterEvent } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { clusterDecider } from './cluster.js';

const spec = deciderSpec(clusterDecider);

const requested = (plan: string, n: number): ClusterEvent => ({
  type: 'ClusterRequested',
  data: {
    clusterId: 'c',
    name: 'shop',
    accountId: 'a',
    plan,
    version: 15,
    secretRef: 'r',
    nodes: Array.from({ length: n }, (_, i) => ({
      nodeId: `node${i + 1}`,
      role: i === 0 ? ('leader' as const) : ('follower' as const),
    })),
  },
});
const running = (n: number): ClusterEvent[] =>
  Array.from({ length: n }, (_, i) => [
    {
      type: 'NodeProvisioned',
      data: { nodeId: `node${i + 1}`, role: i === 0 ? 'leader' : 'follower', port: 5001 + i },
    },
    { type: 'NodeStarted', data: { nodeId: `node${i + 1}`, port: 5001 + i } },
  ]).flat() as ClusterEvent[];
const ready: ClusterEvent = {
  type: 'ClusterReady',
  data: { leader: 'node1', host: '127.0.0.1', port: 1, database: 'app', user: 'app' },
};
const starter = (): ClusterEvent[] => [requested('starter-512', 1), ...running(1), ready];
const business = (): ClusterEvent[] => [requested('business-1024', 3), ...running(3), ready];
const restart = { type: 'RestartCluster', operationId: 'op1' } as const;
const setParameters = (parameters: Record<string, string>, operationId = 'op1') =>
  ({ type: 'SetClusterParameters', operationId, parameters }) as const;

describe('rolling restart request, given/when/then', () => {
  it('given a ready Business cluster, when restarted, then an operation naming the leader and the followers', () => {
    spec
      .given(business())
      .when(restart)
      .then([
        {
          type: 'OperationRequested',
          data: { operationId: 'op1', kind: 'restart', params: { leader: 'node1', followers: ['node2', 'node3'] } },
        },
      ]);
  });

  it('given a Starter cluster, then one node to restart in place', () => {
    spec
      .given(starter())
      .when(restart)
      .then([
        {
          type: 'OperationRequested',
          data: { operationId: 'op1', kind: 'restart', params: { leader: 'node1', followers: [] } },
        },
      ]);
  });

  it('given a minor upgrade, then the same restart operation with its reason', () => {
    spec
      .given(business())
      .when({ ...restart, reason: 'minor-upgrade' })
      .then([
        {
          type: 'OperationRequested',
          data: {
            operationId: 'op1',
            kind: 'restart',
            params: { leader: 'node1', followers: ['node2', 'node3'], reason: 'minor-upgrade' },
          },
        },
      ]);
  });

  it('is refused for a cluster not ready, a fenced node, or while another operation runs', () => {
    spec.given([]).when(restart).thenRejects('CLUSTER_NOT_FOUND');
    spec
      .given([requested('starter-512', 1)])
      .when(restart)
      .thenRejects('NOT_READY', /is provisioning, not ready/);
    const fenced: ClusterEvent = {
      type: 'FailoverStarted',
      data: { operationId: 'f1', term: 1, from: 'node1', reason: 'lost' },
    };
    spec
      .given([...business(), fenced])
      .when(restart)
      .thenRejects('NOT_READY', /do not run as members \(node1\)/);
    const other: ClusterEvent = {
      type: 'OperationRequested',
      data: { operationId: 'op0', kind: 'switchover', params: { from: 'node1', to: 'node2' } },
    };
    spec
      .given([...business(), other])
      .when(restart)
      .thenRejects('OPERATION_IN_PROGRESS');
  });
});

describe('parameter change request, given/when/then', () => {
  it('when valid parameters are set, then the config operation and ClusterParametersChanged in one append', () => {
    const changes = [{ name: 'work_mem', old: null, new: '64MB' }];
    spec
      .given(starter())
      .when(setParameters({ work_mem: '64MB' }))
      .then(
        [
          { type: 'OperationRequested', data: { operationId: 'op1', kind: 'config', params: { changes } } },
          { type: 'ClusterParametersChanged', data: { changes } },
        ],
        (s) => expect(s.parameters).toEqual({ work_mem: '64MB' }),
      );
  });

  it('the old value is the one set before; `default` removes it', () => {
    const before: ClusterEvent[] = [
      ...starter(),
      { type: 'ClusterParametersChanged', data: { changes: [{ name: 'work_mem', old: null, new: '64MB' }] } },
    ];
    const changes = [{ name: 'work_mem', old: '64MB', new: null }];
    spec
      .given(before)
      .when(setParameters({ work_mem: 'default' }))
      .then(
        [
          { type: 'OperationRequested', data: { operationId: 'op1', kind: 'config', params: { changes } } },
          { type: 'ClusterParametersChanged', data: { changes } },
        ],
        (s) => expect(s.parameters).toEqual({}),
      );
  });

  it('an unknown parameter, one off the allow-list, a value out of the plan bounds: refused, nothing recorded', () => {
    spec
      .given(starter())
      .when(setParameters({ work_mem: '64MB', bogus: '1' }))
      .thenRejects('UNKNOWN_PARAMETER', /bogus/);
    spec
      .given(starter())
      .when(setParameters({ wal_level: 'minimal' }))
      .thenRejects('PARAMETER_NOT_ALLOWED', /wal_level/);
    spec
      .given(starter())
      .when(setParameters({ shared_buffers: '1GB' }))
      .thenRejects('PARAMETER_OUT_OF_BOUNDS', /16MB to 256MB on plan starter-512/);
    spec
      .given(business())
      .when(setParameters({ shared_buffers: '600MB' }))
      .thenRejects('PARAMETER_OUT_OF_BOUNDS');
    spec
      .given([requested('starter-512', 1)])
      .when(setParameters({ work_mem: '64MB' }))
      .thenRejects('NOT_READY');
  });
});
