import { describe, expect, it } from 'vitest';
import type { ClusterEvent } from '@pgfleet/contracts';
import { clusterDecider } from './cluster.js';

const requested: ClusterEvent = {
  type: 'ClusterRequested',
  data: {
    clusterId: 'c1',
    name: 'ledger',
    accountId: 'default',
    plan: 'business-1024',
    version: 15,
    nodes: [
      { nodeId: 'node1', role: 'leader' },
      { nodeId: 'node2', role: 'follower' },
    ],
    secretRef: 'clusters/c1/app',
  },
};
const given = (...events: ClusterEvent[]) => events.reduce(clusterDecider.evolve, clusterDecider.initialState);
const place = (nodeId: string, host: string) => ({ type: 'RecordNodePlaced' as const, nodeId, host });

describe('placing a node (RecordNodePlaced)', () => {
  it('records NodePlaced for a node still to be made, and the view shows its host', () => {
    const decision = clusterDecider.decide(place('node2', 'unix:///h2.sock'), given(requested));
    expect(decision).toEqual({
      ok: true,
      events: [{ type: 'NodePlaced', data: { nodeId: 'node2', host: 'unix:///h2.sock' } }],
    });
    const placed = given(requested, ...(decision.ok ? decision.events : []));
    expect(placed.nodes.find((n) => n.nodeId === 'node2')?.host).toBe('unix:///h2.sock');
  });

  it('records nothing for the same host again and refuses to move a placed node', () => {
    const placed: ClusterEvent = { type: 'NodePlaced', data: { nodeId: 'node1', host: 'unix:///h1.sock' } };
    const state = given(requested, placed);
    expect(clusterDecider.decide(place('node1', 'unix:///h1.sock'), state)).toEqual({ ok: true, events: [] });
    expect(clusterDecider.decide(place('node1', 'unix:///h2.sock'), state)).toMatchObject({
      ok: false,
      rejection: { code: 'NODE_ALREADY_PLACED' },
    });
  });

  it('refuses a node the cluster does not have', () => {
    expect(clusterDecider.decide(place('node9', 'unix:///h1.sock'), given(requested))).toMatchObject({
      ok: false,
      rejection: { code: 'UNKNOWN_NODE' },
    });
  });
});
