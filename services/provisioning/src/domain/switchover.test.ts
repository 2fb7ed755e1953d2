import { describe, expect, it } from 'vitest';
import { foldClusterView, type ClusterEvent } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { clusterDecider } from './cluster.js';

const spec = deciderSpec(clusterDecider);

const requested = (n: number): ClusterEvent => ({
  type: 'ClusterRequested',
  data: {
    clusterId: 'c',
    name: 'shop',
    accountId: 'a',
    plan: n > 1 ? 'business-1024' : 'sandbox',
    version: 15,
    secretRef: 'r',
    nodes: Array.from({ length: n }, (_, i) => ({
      nodeId: `node${i + 1}`,
      role: i === 0 ? ('leader' as const) : ('follower' as const),
    })),
  },
});
const ready: ClusterEvent = {
  type: 'ClusterReady',
  data: { leader: 'node1', host: '127.0.0.1', port: 1, database: 'app', user: 'app' },
};
const business = (): ClusterEvent[] => [requested(3), ready];
const switchover = (operationId: string, to?: string) =>
  ({ type: 'SwitchoverCluster', operationId, ...(to ? { to } : {}) }) as const;
const switchoverRequested = (operationId: string, from: string, to: string): ClusterEvent => ({
  type: 'OperationRequested',
  data: { operationId, kind: 'switchover', params: { from, to } },
});

describe('switchover request, given/when/then', () => {
  it('given a ready Business cluster, when a switchover without a target, then one to the first follower', () => {
    spec
      .given(business())
      .when(switchover('op1'))
      .then([switchoverRequested('op1', 'node1', 'node2')], (s) => {
        expect(s.ops.running).toBe('op1');
        expect(s.leader).toBe('node1'); // the leader changes when the operation records it, not before
      });
  });

  it('to a named follower; after a LeaderChanged the old leader is a follower', () => {
    spec
      .given(business())
      .when(switchover('op1', 'node3'))
      .then([switchoverRequested('op1', 'node1', 'node3')]);
    const changed: ClusterEvent = { type: 'LeaderChanged', data: { from: 'node1', to: 'node3', reason: 'switchover' } };
    const done: ClusterEvent = { type: 'OperationSucceeded', data: { operationId: 'op1' } };
    spec
      .given([...business(), switchoverRequested('op1', 'node1', 'node3'), changed, done])
      .when(switchover('op2', 'node1'))
      .then([switchoverRequested('op2', 'node3', 'node1')]);
  });

  it('given a switchover in progress, when another is asked, then OPERATION_IN_PROGRESS naming the running one', () => {
    const running = [...business(), switchoverRequested('op1', 'node1', 'node2')];
    const rejection = spec.given(running).when(switchover('op2', 'node3')).thenRejects('OPERATION_IN_PROGRESS');
    expect(rejection.details).toEqual({ operationId: 'op1', kind: 'switchover' });
    // Whatever the second one asks, even to the node the first one moves to.
    spec.given(running).when(switchover('op2', 'node2')).thenRejects('OPERATION_IN_PROGRESS');
    // Another service's operation counts too.
    const exposing: ClusterEvent = {
      type: 'OperationRequested',
      data: { operationId: 'x1', kind: 'expose', params: {} },
    };
    spec
      .given([...business(), exposing])
      .when(switchover('op2'))
      .thenRejects('OPERATION_IN_PROGRESS', /x1 \(expose\)/);
  });

  it('the same request again (same operation id) records nothing more, running or ended', () => {
    const running = [...business(), switchoverRequested('op1', 'node1', 'node2')];
    spec.given(running).when(switchover('op1', 'node2')).then([]);
    const failed: ClusterEvent = { type: 'OperationFailed', data: { operationId: 'op1', step: 'fence', reason: 'x' } };
    spec
      .given([...running, failed])
      .when(switchover('op1', 'node2'))
      .then([]);
  });

  it('after a switchover ended (succeeded or failed), the next one may start', () => {
    const failed: ClusterEvent = {
      type: 'OperationFailed',
      data: { operationId: 'op1', step: 'caught-up', reason: 'node2 did not catch up' },
    };
    spec
      .given([...business(), switchoverRequested('op1', 'node1', 'node2'), failed])
      .when(switchover('op2', 'node2'))
      .then([switchoverRequested('op2', 'node1', 'node2')]);
  });

  it('rejects with codes: unknown cluster, not ready, one node, already leader, unknown node', () => {
    spec.given([]).when(switchover('op1')).thenRejects('CLUSTER_NOT_FOUND');
    spec
      .given([requested(3)])
      .when(switchover('op1'))
      .thenRejects('NOT_READY', 'cluster shop is provisioning, not ready');
    spec
      .given([requested(1), ready])
      .when(switchover('op1'))
      .thenRejects('NO_FOLLOWER');
    spec.given(business()).when(switchover('op1', 'node1')).thenRejects('ALREADY_LEADER');
    const unknown = spec.given(business()).when(switchover('op1', 'node9')).thenRejects('UNKNOWN_NODE');
    expect(unknown.details).toEqual({ field: 'to' });
    expect(foldClusterView(business()).ops.operations).toEqual([]);
  });
});
