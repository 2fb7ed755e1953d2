import { describe, expect, it } from 'vitest';
import { foldClusterView, type ClusterEvent } from '@pgfleet/contracts';
import { agentAnswer } from './agent.js';
import type { NodeProbe } from './domain/assess.js';

const events: ClusterEvent[] = [
  {
    type: 'ClusterRequested',
    data: {
      clusterId: 'c1',
      name: 'shop',
      accountId: 'a',
      plan: 'business-1024',
      version: 15,
      secretRef: 'r',
      nodes: [
        { nodeId: 'node1', role: 'leader' },
        { nodeId: 'node2', role: 'follower' },
        { nodeId: 'node3', role: 'follower' },
      ],
    },
  },
  { type: 'ClusterReady', data: { leader: 'node1', host: '127.0.0.1', port: 1, database: 'app', user: 'app' } },
];

const primary: NodeProbe = { process: 'running', reachable: true, inRecovery: false };
const standby: NodeProbe = { process: 'running', reachable: true, inRecovery: true };
const silent: NodeProbe = { process: 'running', reachable: false };

function watcher(extra: ClusterEvent[], probes: Record<string, NodeProbe>) {
  const views = new Map([['c1', foldClusterView([...events, ...extra])]]);
  return { views, watchOf: (_c: string, nodeId: string) => (probes[nodeId] ? { last: probes[nodeId] } : undefined) };
}

describe('the gateways agent', () => {
  it('writes: the leader up, a standby down, anything unknown up', () => {
    const w = watcher([], { node1: primary, node2: standby, node3: silent });
    expect(agentAnswer(w, 'c1 node1 rw\n')).toBe('up');
    expect(agentAnswer(w, 'c1 node2 rw')).toBe('down');
    expect(agentAnswer(w, 'c1 node3 rw')).toBe('up');
    expect(agentAnswer(w, 'other node1 rw')).toBe('up');
    // Just promoted and recorded: up although its last probe still says standby.
    const promoted = watcher(
      [{ type: 'LeaderChanged', data: { from: 'node1', to: 'node2', reason: 'failover', term: 1 } }],
      { node2: standby },
    );
    expect(agentAnswer(promoted, 'c1 node2 rw')).toBe('up');
  });

  it('reads: answering standbys up; the leader, a primary or a silent follower down', () => {
    const w = watcher([], { node1: primary, node2: standby, node3: silent });
    expect(agentAnswer(w, 'c1 node1 ro')).toBe('down');
    expect(agentAnswer(w, 'c1 node2 ro')).toBe('up');
    expect(agentAnswer(w, 'c1 node3 ro')).toBe('down');
  });

  it('a fenced old leader is down for both', () => {
    const w = watcher([{ type: 'FailoverStarted', data: { operationId: 'f1', term: 1, from: 'node1', reason: 'x' } }], {
      node1: primary,
    });
    expect(agentAnswer(w, 'c1 node1 rw')).toBe('down');
    expect(agentAnswer(w, 'c1 node1 ro')).toBe('down');
  });
});
