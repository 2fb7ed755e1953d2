import { describe, expect, it } from 'vitest';
import { decideCreate, decideDelete, foldCluster } from './cluster.js';
import { decideRelease, decideReserve, evolveNames, initialNamesState } from './names.js';

const create = { clusterId: 'c1', name: 'prod-db', accountId: 'acme', plan: 'business-1024', version: 15 as const, dataNodes: 3, secretRef: 'cluster/c1/app' };

describe('cluster aggregate', () => {
  it('given no history, when CreateCluster for a business plan, then ClusterRequested with one leader and two followers', () => {
    const d = decideCreate(create, foldCluster([]));
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.events).toEqual([{ type: 'ClusterRequested', data: expect.objectContaining({ name: 'prod-db', plan: 'business-1024', secretRef: 'cluster/c1/app' }) }]);
    const nodes = (d.events[0]!.data as { nodes: { role: string }[] }).nodes;
    expect(nodes.map((n) => n.role)).toEqual(['leader', 'follower', 'follower']);
  });

  it('given a requested cluster, when CreateCluster again, then CLUSTER_EXISTS', () => {
    const first = decideCreate(create, foldCluster([]));
    if (!first.ok) throw new Error('unexpected');
    const d = decideCreate(create, foldCluster(first.events));
    expect(d).toMatchObject({ ok: false, rejection: { code: 'CLUSTER_EXISTS' } });
  });

  it('folds node progress up to Ready, and leadership changes', () => {
    const first = decideCreate(create, foldCluster([]));
    if (!first.ok) throw new Error('unexpected');
    const state = foldCluster([
      ...first.events,
      { type: 'NodeProvisioned', data: { nodeId: 'node1', role: 'leader', port: 5500, dataDir: '/d/1' } },
      { type: 'NodeStarted', data: { nodeId: 'node1', port: 5500 } },
      { type: 'ReplicationEstablished', data: { leader: 'node1', followers: ['node2', 'node3'] } },
      { type: 'ClusterReady', data: { leader: 'node1', host: '127.0.0.1', port: 5500, database: 'app', user: 'app' } },
      { type: 'LeaderChanged', data: { from: 'node1', to: 'node2', reason: 'switchover' } },
    ]);
    expect(state.status).toBe('ready');
    expect(state.leader).toBe('node2');
    expect(state.nodes.find((n) => n.nodeId === 'node1')).toMatchObject({ port: 5500, started: true, role: 'follower' });
    expect(state.version_).toBe(6);
  });

  it('delete: unknown cluster is rejected, a live one is marked for deletion, a deleted one is rejected', () => {
    expect(decideDelete(foldCluster([]))).toMatchObject({ ok: false, rejection: { code: 'CLUSTER_NOT_FOUND' } });
    const first = decideCreate(create, foldCluster([]));
    if (!first.ok) throw new Error('unexpected');
    expect(decideDelete(foldCluster(first.events))).toEqual({ ok: true, events: [{ type: 'ClusterDeletionRequested', data: {} }] });
    const deleted = foldCluster([...first.events, { type: 'ClusterDeletionRequested', data: {} }, { type: 'ClusterDeleted', data: {} }]);
    expect(decideDelete(deleted)).toMatchObject({ ok: false, rejection: { code: 'CLUSTER_DELETED' } });
  });
});

describe('names aggregate', () => {
  it('a name is unique per account until released', () => {
    const reserve = { accountId: 'acme', name: 'prod-db', clusterId: 'c1' };
    const d1 = decideReserve(reserve, initialNamesState());
    if (!d1.ok) throw new Error('unexpected');
    const s1 = d1.events.reduce(evolveNames, initialNamesState());
    expect(decideReserve({ ...reserve, clusterId: 'c2' }, s1)).toMatchObject({ ok: false, rejection: { code: 'NAME_TAKEN', details: { field: 'name' } } });
    expect(decideReserve(reserve, s1)).toEqual({ ok: true, events: [] });
    const d2 = decideRelease(reserve, s1);
    if (!d2.ok) throw new Error('unexpected');
    const s2 = d2.events.reduce(evolveNames, s1);
    expect(decideReserve({ ...reserve, clusterId: 'c2' }, s2).ok).toBe(true);
  });
});
