import { foldClusterView, type ClusterEvent } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { describe, expect, it } from 'vitest';
import { clusterDecider, type CreateClusterCommand, type RecordCommand } from './cluster.js';

const create: CreateClusterCommand = {
  type: 'CreateCluster',
  clusterId: 'c1',
  name: 'prod-db',
  accountId: 'acme',
  plan: 'business-1024',
  version: 15,
  dataNodes: 3,
  secretRef: 'cluster/c1/app',
};
const spec = deciderSpec(clusterDecider);

// ---- fixtures: past events ------------------------------------------------------------------
const requested = (dataNodes = 3): ClusterEvent => ({
  type: 'ClusterRequested',
  data: {
    clusterId: 'c1',
    name: 'prod-db',
    accountId: 'acme',
    plan: dataNodes > 1 ? 'business-1024' : 'starter-512',
    version: 15,
    secretRef: 'cluster/c1/app',
    nodes: Array.from({ length: dataNodes }, (_, i) => ({
      nodeId: `node${i + 1}`,
      role: i === 0 ? 'leader' : 'follower',
    })),
  },
});
const provisioned = (nodeId: string, port: number): ClusterEvent => ({
  type: 'NodeProvisioned',
  data: { nodeId, role: nodeId === 'node1' ? 'leader' : 'follower', port },
});
const started = (nodeId: string, port: number): ClusterEvent => ({ type: 'NodeStarted', data: { nodeId, port } });
/** node1..n provisioned and started on ports 5501.. */
const running = (n: number): ClusterEvent[] =>
  Array.from({ length: n }, (_, i) => {
    const nodeId = `node${i + 1}`;
    return [provisioned(nodeId, 5501 + i), started(nodeId, 5501 + i)];
  }).flat();
const replicating: ClusterEvent = {
  type: 'ReplicationEstablished',
  data: { leader: 'node1', followers: ['node2', 'node3'] },
};
const ready: ClusterEvent = {
  type: 'ClusterReady',
  data: { leader: 'node1', host: '127.0.0.1', port: 5501, database: 'app', user: 'app' },
};
/** A Business cluster whose three nodes run and replicate, ready. */
const readyBusiness = (): ClusterEvent[] => [requested(), ...running(3), replicating, ready];
const deletion: ClusterEvent = { type: 'ClusterDeletionRequested', data: {} };
const deleted: ClusterEvent = { type: 'ClusterDeleted', data: {} };
const failedOn = (nodeId: string): ClusterEvent[] => [
  { type: 'NodeFailed', data: { nodeId, reason: 'FATAL: boom' } },
  { type: 'ClusterProvisioningFailed', data: { nodeId, reason: 'FATAL: boom' } },
];

const deleteRequested = (operationId: string): ClusterEvent => ({
  type: 'OperationRequested',
  data: { operationId, kind: 'delete', params: {} },
});
const deleteSucceeded = (operationId: string): ClusterEvent => ({ type: 'OperationSucceeded', data: { operationId } });
const retryRequested = (operationId: string): ClusterEvent => ({
  type: 'OperationRequested',
  data: { operationId, kind: 'retry', params: {} },
});
const switchoverRequested: ClusterEvent = {
  type: 'OperationRequested',
  data: { operationId: 's1', kind: 'switchover', params: { from: 'node1', to: 'node2' } },
};

// ---- fixtures: worker outcomes --------------------------------------------------------------
const nodeProvisioned = (nodeId: string, port: number): RecordCommand => ({
  type: 'RecordNodeProvisioned',
  nodeId,
  port,
});
const nodeStarted = (nodeId: string, pid: number): RecordCommand => ({
  type: 'RecordNodeStarted',
  nodeId,
  port: 5501,
  pid,
});
const clusterReady: RecordCommand = {
  type: 'RecordClusterReady',
  host: '127.0.0.1',
  port: 5501,
  database: 'app',
  user: 'app',
};

describe('cluster aggregate', () => {
  it(
    'given no history, when CreateCluster for a business plan, then ClusterRequested with one leader and two ' +
      'followers',
    () => {
      const [event] = spec
        .given([])
        .when(create)
        .then([
          {
            type: 'ClusterRequested',
            data: expect.objectContaining({ name: 'prod-db', plan: 'business-1024', secretRef: 'cluster/c1/app' }),
          },
        ]);
      if (event?.type !== 'ClusterRequested') throw new Error('expected ClusterRequested');
      expect(event.data.nodes.map((n) => n.role)).toEqual(['leader', 'follower', 'follower']);
    },
  );

  it('given a requested cluster, when CreateCluster again, then CLUSTER_EXISTS', () => {
    spec.given([requested()]).when(create).thenRejects('CLUSTER_EXISTS');
  });

  it('folds node progress up to Ready, and leadership changes', () => {
    const history: ClusterEvent[] = [
      requested(),
      provisioned('node1', 5500),
      started('node1', 5500),
      replicating,
      { type: 'ClusterReady', data: { leader: 'node1', host: '127.0.0.1', port: 5500, database: 'app', user: 'app' } },
      { type: 'LeaderChanged', data: { from: 'node1', to: 'node2', reason: 'switchover' } },
    ];
    const state = foldClusterView(history);
    expect(state.status).toBe('ready');
    expect(state.leader).toBe('node2');
    expect(state.nodes.find((n) => n.nodeId === 'node1')).toMatchObject({
      port: 5500,
      started: true,
      role: 'follower',
    });
    expect(state.version_).toBe(6);
  });

  it('delete: unknown cluster is rejected, a live one is marked for deletion, a deleted one is rejected', () => {
    const del = { type: 'DeleteCluster', operationId: 'd1' } as const;
    spec.given([]).when(del).thenRejects('CLUSTER_NOT_FOUND');
    spec
      .given([requested()])
      .when(del)
      .then([deleteRequested('d1'), deletion], (s) => {
        expect(s.status).toBe('deleting');
        expect(s.ops.running).toBe('d1');
      });
    spec
      .given([requested(), deleteRequested('d1'), deletion, deleted, deleteSucceeded('d1')])
      .when({ ...del, operationId: 'd2' })
      .thenRejects('CLUSTER_DELETED', 'cluster prod-db is already deleted');
  });

  it('delete of a cluster being deleted records nothing more (the same request, another, a deletion of old)', () => {
    const deleting = [requested(), deleteRequested('d1'), deletion];
    spec.given(deleting).when({ type: 'DeleteCluster', operationId: 'd1' }).then([]);
    spec.given(deleting).when({ type: 'DeleteCluster', operationId: 'd2' }).then([]);
    spec.given([requested(), deletion]).when({ type: 'DeleteCluster', operationId: 'd2' }).then([]);
  });

  it('given another operation in progress, when DeleteCluster, then OPERATION_IN_PROGRESS naming it', () => {
    const rejection = spec
      .given([...readyBusiness(), switchoverRequested])
      .when({ type: 'DeleteCluster', operationId: 'd1' })
      .thenRejects('OPERATION_IN_PROGRESS', /s1 \(switchover\) is in progress/);
    expect(rejection.details).toEqual({ operationId: 's1', kind: 'switchover' });
    spec
      .given([...readyBusiness(), switchoverRequested, { type: 'OperationSucceeded', data: { operationId: 's1' } }])
      .when({ type: 'DeleteCluster', operationId: 'd1' })
      .then([deleteRequested('d1'), deletion]);
  });

  it('retry: unknown cluster is rejected, only a failed cluster goes back to provisioning, as an operation', () => {
    const retry = { type: 'RetryCluster', operationId: 'r1' } as const;
    spec.given([]).when(retry).thenRejects('CLUSTER_NOT_FOUND');
    spec
      .given(readyBusiness())
      .when(retry)
      .thenRejects('NOT_FAILED', 'cluster prod-db is ready; only a failed cluster can be retried');
    const failed = [requested(), provisioned('node1', 5501), ...failedOn('node1')];
    spec
      .given(failed)
      .when(retry)
      .then([retryRequested('r1'), { type: 'ClusterProvisioningRetried', data: {} }], (s) => {
        expect(s.status).toBe('provisioning');
        expect(s.ops.running).toBe('r1');
      });
    // The same request again: nothing more; another one while it runs: OPERATION_IN_PROGRESS.
    const retrying = [...failed, retryRequested('r1'), { type: 'ClusterProvisioningRetried', data: {} } as const];
    spec.given(retrying).when(retry).then([]);
    spec
      .given(retrying)
      .when({ ...retry, operationId: 'r2' })
      .thenRejects('OPERATION_IN_PROGRESS');
  });
});

describe('cluster aggregate: worker outcomes', () => {
  it(
    'NodeProvisioned names the node, its role and port; the same outcome again records nothing; another port ' +
      'is refused',
    () => {
      spec
        .given([requested()])
        .when(nodeProvisioned('node2', 5502))
        .then([{ type: 'NodeProvisioned', data: { nodeId: 'node2', role: 'follower', port: 5502 } }]);
      const given = [requested(), provisioned('node2', 5502)];
      spec.given(given).when(nodeProvisioned('node2', 5502)).then([]);
      spec.given(given).when(nodeProvisioned('node2', 6000)).thenRejects('NODE_ALREADY_PROVISIONED');
      spec.given([requested()]).when(nodeProvisioned('node9', 5509)).thenRejects('UNKNOWN_NODE');
    },
  );

  it(
    'provisioning outcomes are refused once the cluster is no longer provisioning (deleted, failed) or ' + 'unknown',
    () => {
      spec.given([]).when(nodeProvisioned('node1', 5501)).thenRejects('CLUSTER_NOT_FOUND');
      spec
        .given([requested(), deletion])
        .when(nodeProvisioned('node1', 5501))
        .thenRejects('NOT_PROVISIONING', 'cluster prod-db is deleting, not provisioning');
      const failed = [requested(), provisioned('node1', 5501), ...failedOn('node1')];
      spec.given(failed).when(nodeStarted('node1', 42)).thenRejects('NOT_PROVISIONING');
      spec
        .given(failed)
        .when({ type: 'RecordNodeFailed', nodeId: 'node1', reason: 'again' })
        .thenRejects('NOT_PROVISIONING');
    },
  );

  it(
    'NodeStarted once per start: not before the node is provisioned, nothing when already started, again after ' +
      'a retry',
    () => {
      spec.given([requested()]).when(nodeStarted('node1', 42)).thenRejects('NODE_NOT_PROVISIONED');
      spec
        .given([requested(), provisioned('node1', 5501)])
        .when(nodeStarted('node1', 42))
        .then([{ type: 'NodeStarted', data: { nodeId: 'node1', port: 5501, pid: 42 } }]);
      spec
        .given([requested(), ...running(1)])
        .when(nodeStarted('node1', 42))
        .then([]);
      const retried: ClusterEvent[] = [
        requested(),
        ...running(1),
        ...failedOn('node1'),
        { type: 'ClusterProvisioningRetried', data: {} },
      ];
      spec
        .given(retried)
        .when(nodeStarted('node1', 43))
        .then([{ type: 'NodeStarted', data: { nodeId: 'node1', port: 5501, pid: 43 } }]);
    },
  );

  it('NodeFailed fails the provisioning with the same reason', () => {
    spec
      .given([requested(), provisioned('node1', 5501)])
      .when({ type: 'RecordNodeFailed', nodeId: 'node1', reason: 'FATAL: boom' })
      .then(failedOn('node1'));
  });

  it('ReplicationEstablished names the leader and every follower, once; a cluster without followers has none', () => {
    const sync = 'ANY 1 (node2, node3)';
    spec
      .given([requested(), ...running(3)])
      .when({ type: 'RecordReplicationEstablished', synchronousStandbyNames: sync })
      .then([
        {
          type: 'ReplicationEstablished',
          data: { leader: 'node1', followers: ['node2', 'node3'], synchronousStandbyNames: sync },
        },
      ]);
    spec
      .given([requested(), ...running(3), replicating])
      .when({ type: 'RecordReplicationEstablished' })
      .then([]);
    spec
      .given([requested(1), ...running(1)])
      .when({ type: 'RecordReplicationEstablished' })
      .thenRejects('NO_FOLLOWER');
  });

  it('ClusterReady only once every node runs and the followers replicate; once', () => {
    spec
      .given([requested(), ...running(1)])
      .when(clusterReady)
      .thenRejects('NODES_NOT_STARTED', /node2, node3 not started/);
    spec
      .given([requested(), ...running(3)])
      .when(clusterReady)
      .thenRejects('REPLICATION_NOT_ESTABLISHED');
    spec
      .given([requested(), ...running(3), replicating])
      .when(clusterReady)
      .then([ready]);
    spec
      .given([requested(1), ...running(1)])
      .when(clusterReady)
      .then([ready]);
    spec.given(readyBusiness()).when(clusterReady).then([]);
    spec
      .given([requested(), ...running(3), replicating, deletion])
      .when(clusterReady)
      .thenRejects('NOT_PROVISIONING');
  });

  it('ProvisioningFailed ends a provisioning, and only a provisioning', () => {
    spec
      .given([requested()])
      .when({ type: 'RecordProvisioningFailed', reason: 'passwords missing' })
      .then([{ type: 'ClusterProvisioningFailed', data: { reason: 'passwords missing' } }]);
    spec
      .given(readyBusiness())
      .when({ type: 'RecordProvisioningFailed', reason: 'late' })
      .thenRejects('NOT_PROVISIONING');
  });

  it('NodeStopped while deleting, for a started node only', () => {
    const stop: RecordCommand = { type: 'RecordNodeStopped', nodeId: 'node2' };
    const stopped: ClusterEvent = { type: 'NodeStopped', data: { nodeId: 'node2' } };
    const deleting = [...readyBusiness(), deletion];
    spec.given(deleting).when(stop).then([stopped]);
    spec
      .given([...deleting, stopped])
      .when(stop)
      .then([]);
    spec.given(readyBusiness()).when(stop).thenRejects('NOT_DELETING');
  });

  it('ClusterSecretsRemoved records, once, that a deleting cluster lost its passwords and private keys', () => {
    const removed = { type: 'RecordSecretsRemoved', secretRefs: ['cluster/c/app'], privateKeys: true } as const;
    const event = {
      type: 'ClusterSecretsRemoved',
      data: { secretRefs: ['cluster/c/app'], privateKeys: true },
    } as const;
    spec.given([requested(), deletion]).when(removed).then([event]);
    spec.given([requested(), deletion, event]).when(removed).then([]);
    spec.given(readyBusiness()).when(removed).thenRejects('NOT_DELETING');
  });

  it('ClusterDeleted ends a deletion, once; never a cluster nobody asked to delete', () => {
    const done = { type: 'RecordClusterDeleted' } as const;
    spec.given([requested(), deletion]).when(done).then([deleted]);
    spec.given([requested(), deletion, deleted]).when(done).then([]);
    spec.given(readyBusiness()).when(done).thenRejects('NOT_DELETING');
    spec.given([]).when(done).thenRejects('CLUSTER_NOT_FOUND');
  });

  it('ClusterDeleted ends the delete operation in the same append; a deletion of old has none to end', () => {
    const done = { type: 'RecordClusterDeleted' } as const;
    spec
      .given([requested(), deleteRequested('d1'), deletion])
      .when(done)
      .then([deleted, deleteSucceeded('d1')], (s) => {
        expect(s.status).toBe('deleted');
        expect(s.ops.running).toBeUndefined();
        expect(s.ops.operations[0]).toMatchObject({ operationId: 'd1', kind: 'delete', status: 'succeeded' });
      });
    spec.given([requested(), deletion]).when(done).then([deleted]);
  });

  it('a retried provisioning ends its retry: succeeded with ClusterReady, failed at step provision on failure', () => {
    const retrying: ClusterEvent[] = [
      requested(1),
      provisioned('node1', 5501),
      ...failedOn('node1'),
      retryRequested('r1'),
      { type: 'ClusterProvisioningRetried', data: {} },
    ];
    spec
      .given([...retrying, started('node1', 5501)])
      .when(clusterReady)
      .then([ready, { type: 'OperationSucceeded', data: { operationId: 'r1' } }]);
    spec
      .given(retrying)
      .when({ type: 'RecordNodeFailed', nodeId: 'node1', reason: 'FATAL: again' })
      .then(
        [
          { type: 'NodeFailed', data: { nodeId: 'node1', reason: 'FATAL: again' } },
          { type: 'ClusterProvisioningFailed', data: { nodeId: 'node1', reason: 'FATAL: again' } },
          { type: 'OperationFailed', data: { operationId: 'r1', step: 'provision', reason: 'node1: FATAL: again' } },
        ],
        (s) => expect(s.ops.operations[0]).toMatchObject({ status: 'failed', failedStep: 'provision' }),
      );
    spec
      .given(retrying)
      .when({ type: 'RecordProvisioningFailed', reason: 'passwords missing' })
      .then([
        { type: 'ClusterProvisioningFailed', data: { reason: 'passwords missing' } },
        { type: 'OperationFailed', data: { operationId: 'r1', step: 'provision', reason: 'passwords missing' } },
      ]);
    // A first provisioning (no retry) ends no operation; neither does one while another kind runs.
    spec
      .given([requested(1), ...running(1)])
      .when(clusterReady)
      .then([ready]);
  });

  it('LeaderChanged after a switchover: once; refused when the cluster changed meanwhile', () => {
    const moved = { type: 'RecordLeaderChanged', from: 'node1', to: 'node3', timeline: 2 } as const;
    const changed: ClusterEvent = {
      type: 'LeaderChanged',
      data: { from: 'node1', to: 'node3', reason: 'switchover', timeline: 2 },
    };
    spec.given(readyBusiness()).when(moved).then([changed]);
    spec
      .given([...readyBusiness(), changed])
      .when(moved)
      .then([]);
    const elsewhere: ClusterEvent = {
      type: 'LeaderChanged',
      data: { from: 'node1', to: 'node2', reason: 'switchover' },
    };
    spec
      .given([...readyBusiness(), elsewhere])
      .when(moved)
      .thenRejects('CONFLICT', /changed during the switchover/);
    spec
      .given([...readyBusiness(), deletion])
      .when(moved)
      .thenRejects('CONFLICT');
    spec
      .given(readyBusiness())
      .when({ ...moved, to: 'node9' })
      .thenRejects('UNKNOWN_NODE');
    spec.given([]).when(moved).thenRejects('CLUSTER_NOT_FOUND');
  });
});
