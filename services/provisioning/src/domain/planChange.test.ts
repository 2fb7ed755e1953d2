import { describe, expect, it } from 'vitest';
import type { ClusterEvent } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { clusterDecider } from './cluster.js';
import { newNodeIds, planChangeKind } from './planChange.js';

const spec = deciderSpec(clusterDecider);
const GIB = 2 ** 30;

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
const changePlan = (plan: string, dataBytes?: number) =>
  ({ type: 'ChangePlan', operationId: 'op1', plan, ...(dataBytes === undefined ? {} : { dataBytes }) }) as const;
const planChange = (params: Record<string, unknown>): ClusterEvent => ({
  type: 'OperationRequested',
  data: { operationId: 'op1', kind: 'plan-change', params },
});

describe('plan change request, given/when/then', () => {
  it('Starter -> Business: two followers added with the operation, in one append', () => {
    const params = { from: 'starter-512', to: 'business-1024', change: 'add-followers', nodes: ['node2', 'node3'] };
    spec
      .given(starter())
      .when(changePlan('business-1024', 50 * 2 ** 20))
      .then(
        [
          planChange(params),
          { type: 'NodeAdded', data: { nodeId: 'node2', role: 'follower' } },
          { type: 'NodeAdded', data: { nodeId: 'node3', role: 'follower' } },
        ],
        (s) => {
          expect(s.plan).toBe('starter-512'); // the plan changes when the operation records it
          expect(s.nodes.map((n) => [n.nodeId, n.provisioned])).toEqual([
            ['node1', true],
            ['node2', false],
            ['node3', false],
          ]);
        },
      );
  });

  it('Business -> Starter: the followers are named for removal; Business -> Business: a resize', () => {
    spec
      .given(business())
      .when(changePlan('starter-1024'))
      .then([
        planChange({
          from: 'business-1024',
          to: 'starter-1024',
          change: 'remove-followers',
          nodes: ['node2', 'node3'],
        }),
      ]);
    spec
      .given(business())
      .when(changePlan('business-4096'))
      .then([planChange({ from: 'business-1024', to: 'business-4096', change: 'resize', nodes: [] })]);
  });

  it('an unknown plan, the same plan: one sentence each, nothing recorded', () => {
    spec
      .given(starter())
      .when(changePlan('business-9'))
      .thenRejects('UNKNOWN_PLAN', /^unknown plan business-9; the plans are sandbox, starter-512, /);
    spec
      .given(starter())
      .when(changePlan('starter-512'))
      .thenRejects('SAME_PLAN', 'cluster shop is already on plan starter-512');
  });

  it('a plan whose disk is smaller than the data: refused with both sizes', () => {
    spec
      .given(starter())
      .when(changePlan('sandbox', 3 * GIB))
      .thenRejects(
        'DATA_EXCEEDS_DISK',
        'cluster shop holds 3.0 GiB of data, more than the 1 GiB disk of plan sandbox: ' +
          'delete data or choose a plan with a bigger disk',
      );
    spec
      .given(starter())
      .when(changePlan('sandbox', 200 * 2 ** 20))
      .then([planChange({ from: 'starter-512', to: 'sandbox', change: 'resize', nodes: [] })]);
  });

  it('refused on a cluster not ready, with a node down, or while another operation runs', () => {
    spec
      .given([requested('starter-512', 1)])
      .when(changePlan('business-1024'))
      .thenRejects('NOT_READY');
    const stopped: ClusterEvent = { type: 'NodeFailed', data: { nodeId: 'node2', reason: 'gone' } };
    spec
      .given([...business(), stopped])
      .when(changePlan('starter-512'))
      .thenRejects('NOT_READY', /node2/);
    const other: ClusterEvent = {
      type: 'OperationRequested',
      data: { operationId: 'op0', kind: 'switchover', params: {} },
    };
    spec
      .given([...business(), other])
      .when(changePlan('starter-512'))
      .thenRejects('OPERATION_IN_PROGRESS');
  });

  it('the operation records its outcomes: new nodes made, followers removed, the plan changed', () => {
    const params = { from: 'business-1024', to: 'starter-512', change: 'remove-followers', nodes: ['node2', 'node3'] };
    const given = [...business(), planChange(params)];
    spec
      .given(given)
      .when({ type: 'RecordNodeRemoved', nodeId: 'node2' })
      .then([{ type: 'NodeRemoved', data: { nodeId: 'node2' } }], (s) => expect(s.nodes).toHaveLength(2));
    spec.given(given).when({ type: 'RecordNodeRemoved', nodeId: 'node1' }).thenRejects('NODE_IS_LEADER');
    spec
      .given(given)
      .when({ type: 'RecordPlanChanged', to: 'starter-512' })
      .then([{ type: 'ClusterPlanChanged', data: { from: 'business-1024', to: 'starter-512' } }], (s) =>
        expect(s.plan).toBe('starter-512'),
      );
    spec.given(given).when({ type: 'RecordPlanChanged', to: 'business-2048' }).thenRejects('CONFLICT');
    // Outside a plan change, none of it is recorded.
    spec.given(business()).when({ type: 'RecordNodeRemoved', nodeId: 'node2' }).thenRejects('NO_PLAN_CHANGE');
  });
});

describe('plan change, pure parts', () => {
  it('the change follows the number of data nodes', () => {
    expect(planChangeKind({ dataNodes: 1 }, { dataNodes: 3 })).toBe('add-followers');
    expect(planChangeKind({ dataNodes: 3 }, { dataNodes: 1 })).toBe('remove-followers');
    expect(planChangeKind({ dataNodes: 3 }, { dataNodes: 3 })).toBe('resize');
  });

  it('new nodes are named after the highest one', () => {
    expect(newNodeIds(['node1'], 2)).toEqual(['node2', 'node3']);
    expect(newNodeIds(['node2'], 2)).toEqual(['node3', 'node4']);
  });
});
