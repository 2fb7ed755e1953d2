import { describe, expect, it } from 'vitest';
import { foldClusterView, type ClusterEvent } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { assessCluster, type NodeProbe, type NodeWatch } from './assess.js';
import { haDecider } from './ha.js';

const spec = deciderSpec(haDecider);

const requested = (n: number, durability?: 'strict' | 'available'): ClusterEvent => ({
  type: 'ClusterRequested',
  data: {
    clusterId: 'c',
    name: 'shop',
    accountId: 'a',
    plan: n > 1 ? 'business-1024' : 'starter-512',
    version: 15,
    secretRef: 'r',
    nodes: Array.from({ length: n }, (_, i) => ({
      nodeId: `node${i + 1}`,
      role: i === 0 ? ('leader' as const) : ('follower' as const),
    })),
    ...(durability ? { durability } : {}),
  },
});
const ready: ClusterEvent = {
  type: 'ClusterReady',
  data: { leader: 'node1', host: '127.0.0.1', port: 1, database: 'app', user: 'app' },
};
const business = (): ClusterEvent[] => [requested(3), ready];
const startFailover = (operationId: string, term = 1, from = 'node1') =>
  ({
    type: 'StartFailover',
    operationId,
    from,
    term,
    reason: 'leader lost',
    params: { streaming: ['node2'] },
  }) as const;
const failoverStarted = (operationId: string, term = 1, from = 'node1'): ClusterEvent[] => [
  { type: 'FailoverStarted', data: { operationId, term, from, reason: 'leader lost' } },
  {
    type: 'OperationRequested',
    data: { operationId, kind: 'failover', params: { streaming: ['node2'], from, term } },
  },
];

describe('failover decisions, given/when/then', () => {
  it('a lost Business leader: FailoverStarted for the next term with its operation, in one append', () => {
    spec
      .given(business())
      .when(startFailover('f1'))
      .then(failoverStarted('f1'), (s) => {
        expect(s.term).toBe(1);
        expect(s.ops.running).toBe('f1');
        expect(s.nodes.find((n) => n.nodeId === 'node1')?.fenced).toBe(true);
        expect(s.leader).toBe('node1'); // until the operation records the new one
      });
  });

  it('a second replica deciding on the new stream: the same term is refused, as is a leader already replaced', () => {
    const started = [...business(), ...failoverStarted('f1')];
    spec.given(started).when(startFailover('f2', 1)).thenRejects('STALE_TERM');
    spec
      .given(started)
      .when(startFailover('f2', 2))
      .thenRejects('OPERATION_IN_PROGRESS', /f1 \(failover\)/);
    const changed: ClusterEvent = {
      type: 'LeaderChanged',
      data: { from: 'node1', to: 'node2', reason: 'failover', term: 1, timeline: 2 },
    };
    const done: ClusterEvent = { type: 'OperationSucceeded', data: { operationId: 'f1' } };
    spec
      .given([...started, changed, done])
      .when(startFailover('f3', 2, 'node1'))
      .thenRejects('LEADER_CHANGED', /led by node2/);
  });

  it('nothing to fail over on a single-node cluster or one that is not ready', () => {
    spec
      .given([requested(1), ready])
      .when(startFailover('f1'))
      .thenRejects('NO_FOLLOWER');
    spec
      .given([requested(3)])
      .when(startFailover('f1'))
      .thenRejects('CLUSTER_NOT_READY');
    spec.given([]).when(startFailover('f1')).thenRejects('CLUSTER_NOT_FOUND');
  });

  it('the failover records its leader once, for its own term; the fenced node is cleared by NodeRejoined', () => {
    const started = [...business(), ...failoverStarted('f1')];
    const leader = { type: 'RecordFailoverLeader', from: 'node1', to: 'node3', term: 1, timeline: 2 } as const;
    const changed: ClusterEvent = {
      type: 'LeaderChanged',
      data: { from: 'node1', to: 'node3', reason: 'failover', term: 1, timeline: 2 },
    };
    spec
      .given(started)
      .when(leader)
      .then([changed], (s) => {
        expect(s.leader).toBe('node3');
        expect(s.lastFailover).toMatchObject({ term: 1, from: 'node1', to: 'node3' });
        expect(s.nodes.find((n) => n.nodeId === 'node1')).toMatchObject({ fenced: true, role: 'follower' });
      });
    spec
      .given([...started, changed])
      .when(leader)
      .then([]);
    spec
      .given(started)
      .when({ ...leader, term: 2 })
      .thenRejects('STALE_TERM');
    const rejoined = { type: 'RecordNodeRejoined', nodeId: 'node1', leader: 'node3', method: 'rewind' } as const;
    spec
      .given([...started, changed])
      .when(rejoined)
      .then([{ type: 'NodeRejoined', data: { nodeId: 'node1', leader: 'node3', method: 'rewind' } }], (s) => {
        expect(s.nodes.find((n) => n.nodeId === 'node1')?.fenced).toBe(false);
      });
    spec.given(started).when(rejoined).thenRejects('LEADER_CHANGED');
  });

  it('health is recorded only when it changes', () => {
    const health = { type: 'RecordNodeHealth', nodeId: 'node2', health: 'lagging', reason: 'not streaming' } as const;
    const changed: ClusterEvent = {
      type: 'NodeHealthChanged',
      data: { nodeId: 'node2', health: 'lagging', reason: 'not streaming' },
    };
    spec.given(business()).when(health).then([changed]);
    spec
      .given([...business(), changed])
      .when(health)
      .then([]);
  });

  it('synchronous replication degrades only with `available`, never while an operation runs, and is restored', () => {
    const degrade = { type: 'DegradeSync', leader: 'node1', reason: 'no follower' } as const;
    const degraded: ClusterEvent = {
      type: 'SyncReplicationDegraded',
      data: { leader: 'node1', reason: 'no follower' },
    };
    spec.given(business()).when(degrade).then([degraded]);
    spec
      .given([requested(3, 'strict'), ready])
      .when(degrade)
      .thenRejects('DURABILITY_STRICT');
    spec
      .given([...business(), ...failoverStarted('f1')])
      .when(degrade)
      .thenRejects('OPERATION_IN_PROGRESS');
    const restore = { type: 'RestoreSync', leader: 'node1', synchronousStandbyNames: 'ANY 1 (node2, node3)' } as const;
    spec
      .given([...business(), degraded])
      .when(restore)
      .then([
        { type: 'SyncReplicationRestored', data: { leader: 'node1', synchronousStandbyNames: 'ANY 1 (node2, node3)' } },
      ]);
    spec.given(business()).when(restore).then([]);
  });

  it('durability changes when it differs', () => {
    spec
      .given(business())
      .when({ type: 'SetDurability', durability: 'strict' })
      .then([{ type: 'DurabilityChanged', data: { durability: 'strict' } }], (s) =>
        expect(s.durability).toBe('strict'),
      );
    spec.given(business()).when({ type: 'SetDurability', durability: 'available' }).then([]);
  });
});

const settings = { graceMs: 1500, lagBytes: 1_000_000, syncGraceMs: 3000 };
const leaderUp: NodeProbe = {
  process: 'running',
  reachable: true,
  inRecovery: false,
  timeline: 1,
  streamingStandbys: ['node2', 'node3'],
  synchronousStandbyNames: 'ANY 1 ("node2", "node3")',
};
const standby = (streaming = true): NodeProbe => ({
  process: 'running',
  reachable: true,
  inRecovery: true,
  timeline: 1,
  receiverStreaming: streaming,
  replayLagBytes: 0,
});
const watches = (entries: Record<string, NodeWatch>) => new Map(Object.entries(entries));
const kinds = (actions: { kind: string }[]) => actions.map((a) => a.kind).filter((k) => k !== 'health');

describe('assessing a cluster from its probes', () => {
  const view = foldClusterView(business());
  const now = 100_000;

  it('a healthy cluster: only health to record, nothing to do', () => {
    const w = watches({ node1: { last: leaderUp }, node2: { last: standby() }, node3: { last: standby() } });
    const actions = assessCluster(view, w, now, settings);
    expect(kinds(actions)).toEqual([]);
    expect(actions).toContainEqual(expect.objectContaining({ kind: 'health', nodeId: 'node2', health: 'healthy' }));
  });

  it('a dead leader whose followers no longer stream: a failover, at once', () => {
    const w = watches({
      node1: {
        last: { process: 'stopped', reachable: false },
        unreachableSince: now,
        lastStreaming: ['node2', 'node3'],
      },
      node2: { last: standby(false) },
      node3: { last: standby(false) },
    });
    expect(assessCluster(view, w, now, settings)).toContainEqual({
      kind: 'failover',
      from: 'node1',
      reason: 'leader node1 lost: its server is stopped, and no follower streams from it',
      streaming: ['node2', 'node3'],
    });
  });

  it('two sources agree or nothing: silent within the grace, or still streamed from, is not lost', () => {
    const silent: NodeProbe = { process: 'running', reachable: false, error: 'timeout' };
    const within = watches({
      node1: { last: silent, unreachableSince: now - 1000 },
      node2: { last: standby(false) },
      node3: { last: standby(false) },
    });
    expect(kinds(assessCluster(view, within, now, settings))).toEqual([]);
    const streamed = watches({
      node1: { last: silent, unreachableSince: now - 5000 },
      node2: { last: standby(true) },
      node3: { last: standby(false) },
    });
    expect(kinds(assessCluster(view, streamed, now, settings))).toEqual([]);
    const lost = watches({
      node1: { last: silent, unreachableSince: now - 1600 },
      node2: { last: standby(false) },
      node3: { last: standby(false) },
    });
    expect(kinds(assessCluster(view, lost, now, settings))).toEqual(['failover']);
    // A receiver still "streaming" but silent past the grace hears from no live leader (a frozen one).
    const frozen = watches({
      node1: { last: silent, unreachableSince: now - 1600 },
      node2: { last: { ...standby(true), receiverSilentMs: 1600 } },
      node3: { last: { ...standby(true), receiverSilentMs: 1700 } },
    });
    expect(kinds(assessCluster(view, frozen, now, settings))).toEqual(['failover']);
    const heard = watches({
      node1: { last: silent, unreachableSince: now - 1600 },
      node2: { last: { ...standby(true), receiverSilentMs: 900 } },
      node3: { last: { ...standby(true), receiverSilentMs: 1700 } },
    });
    expect(kinds(assessCluster(view, heard, now, settings))).toEqual([]);
  });

  it('a dead follower or single-node server is restarted in place; nothing while an operation runs', () => {
    const w = watches({
      node1: { last: leaderUp },
      node2: { last: { process: 'stopped', reachable: false } },
      node3: { last: standby() },
    });
    expect(kinds(assessCluster(view, w, now, settings))).toEqual(['restart']);
    const single = foldClusterView([requested(1), ready]);
    const dead = watches({ node1: { last: { process: 'stopped', reachable: false } } });
    expect(assessCluster(single, dead, now, settings)).toContainEqual({
      kind: 'restart',
      nodeId: 'node1',
      reason: 'its server was not running',
    });
    const running = foldClusterView([...business(), ...failoverStarted('f1')]);
    expect(kinds(assessCluster(running, w, now, settings))).toEqual([]);
  });

  it('a fenced old leader rejoins once the new leader answers; so does a primary that is not the leader', () => {
    const changed: ClusterEvent = {
      type: 'LeaderChanged',
      data: { from: 'node1', to: 'node2', reason: 'failover', term: 1, timeline: 2 },
    };
    const done: ClusterEvent = { type: 'OperationSucceeded', data: { operationId: 'f1' } };
    const after = foldClusterView([...business(), ...failoverStarted('f1'), changed, done]);
    const w = watches({
      node1: { last: { process: 'stopped', reachable: false } },
      node2: { last: leaderUp },
      node3: { last: standby() },
    });
    expect(assessCluster(after, w, now, settings)).toContainEqual({
      kind: 'rejoin',
      nodeId: 'node1',
      reason: 'node1 is a fenced old leader',
    });
    // Frozen (running, silent): it waits; it is neither restarted nor rejoined yet.
    const frozen = watches({
      node1: { last: { process: 'running', reachable: false } },
      node2: { last: leaderUp },
      node3: { last: standby() },
    });
    expect(kinds(assessCluster(after, frozen, now, settings))).toEqual([]);
    const rogue = watches({ node1: { last: leaderUp }, node2: { last: standby() }, node3: { last: leaderUp } });
    expect(assessCluster(view, rogue, now, settings)).toContainEqual({
      kind: 'rejoin',
      nodeId: 'node3',
      reason: 'node3 runs as a primary but is not the leader',
    });
  });

  it('`available`: no standby streaming for the grace degrades; one streaming again restores', () => {
    const alone: NodeProbe = { ...leaderUp, streamingStandbys: [] };
    const w = watches({
      node1: { last: alone, noStandbySince: now - 3000 },
      node2: { last: { process: 'running', reachable: false } },
      node3: { last: { process: 'running', reachable: false } },
    });
    expect(kinds(assessCluster(view, w, now, settings))).toEqual(['degrade']);
    const strict = foldClusterView([requested(3, 'strict'), ready]);
    expect(kinds(assessCluster(strict, w, now, settings))).toEqual([]);
    const degraded = foldClusterView([
      ...business(),
      { type: 'SyncReplicationDegraded', data: { leader: 'node1', reason: 'x' } },
    ]);
    expect(kinds(assessCluster(degraded, w, now, settings))).toEqual(['reapply-async']);
    const back = watches({ node1: { last: leaderUp }, node2: { last: standby() }, node3: { last: standby() } });
    expect(assessCluster(degraded, back, now, settings)).toContainEqual({
      kind: 'restore',
      leader: 'node1',
      names: ['node2', 'node3'],
    });
  });
});
