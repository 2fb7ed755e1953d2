import { describe, expect, it } from 'vitest';
import { foldClusterView, type DomainEvent } from '@pgfleet/contracts';
import { decideSwitchover } from './switchover.js';

const requested = (n: number): DomainEvent => ({
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
const ready: DomainEvent = {
  type: 'ClusterReady',
  data: { leader: 'node1', host: '127.0.0.1', port: 1, database: 'app', user: 'app' },
};

describe('switchover, given/when/then', () => {
  it('defaults to the first follower', () => {
    expect(decideSwitchover({}, foldClusterView([requested(3), ready]))).toEqual({
      ok: true,
      from: 'node1',
      to: 'node2',
    });
  });
  it('to a named follower; after a LeaderChanged the old leader is a follower', () => {
    expect(decideSwitchover({ to: 'node3' }, foldClusterView([requested(3), ready]))).toEqual({
      ok: true,
      from: 'node1',
      to: 'node3',
    });
    const changed: DomainEvent = { type: 'LeaderChanged', data: { from: 'node1', to: 'node3', reason: 'switchover' } };
    const moved = foldClusterView([requested(3), ready, changed]);
    expect(decideSwitchover({ to: 'node1' }, moved)).toEqual({ ok: true, from: 'node3', to: 'node1' });
  });
  it('rejects with codes: unknown cluster, not ready, one node, already leader, unknown node', () => {
    const code = (d: ReturnType<typeof decideSwitchover>) => (d.ok ? 'ok' : d.rejection.code);
    expect(code(decideSwitchover({}, foldClusterView([])))).toBe('CLUSTER_NOT_FOUND');
    expect(code(decideSwitchover({}, foldClusterView([requested(3)])))).toBe('NOT_READY');
    expect(code(decideSwitchover({}, foldClusterView([requested(1), ready])))).toBe('NO_FOLLOWER');
    expect(code(decideSwitchover({ to: 'node1' }, foldClusterView([requested(3), ready])))).toBe('ALREADY_LEADER');
    const unknown = decideSwitchover({ to: 'node9' }, foldClusterView([requested(3), ready]));
    expect(unknown).toMatchObject({ ok: false, rejection: { code: 'UNKNOWN_NODE', details: { field: 'to' } } });
  });
});
