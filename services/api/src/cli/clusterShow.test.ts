import { describe, expect, it } from 'vitest';
import { foldDisk, foldGateways, type EventEnvelope } from '@pgfleet/contracts';
import { type LiveNode, showCluster } from '../http/clusterShown.js';
import { applyToClusters, type ClusterEntry } from '../http/projection.js';
import { renderCluster } from './clusterShow.js';

let version = 0;
/** A stored cluster event, one second after the previous one (10:00:01, 10:00:02...). */
const ev = (type: string, data: unknown): EventEnvelope =>
  ({
    id: `0190a000-0000-7000-8000-${String(++version).padStart(12, '0')}`,
    type,
    data,
    streamId: 'cluster-c1',
    streamVersion: version,
    globalPosition: String(version),
    occurredAt: new Date(Date.UTC(2026, 10, 25, 10, 0, version)).toISOString().replace('.000Z', 'Z'),
    schemaVersion: 1,
    correlationId: 'c',
    causationId: null,
    actor: { kind: 'system', id: 'test' },
  }) as EventEnvelope;

const NODES = ['node1', 'node2', 'node3'];

/** A ready Business cluster `shop` whose three nodes the HA service saw healthy, then `more` events. */
function fold(more: [string, unknown][], durability?: 'strict' | 'available'): ClusterEntry {
  version = 0;
  const map = new Map<string, ClusterEntry>();
  const nodes = NODES.map((nodeId, i) => ({ nodeId, role: i === 0 ? 'leader' : 'follower' }));
  const requested = {
    clusterId: 'c1',
    name: 'shop',
    accountId: 'default',
    plan: 'business-1024',
    version: 15,
    nodes,
    secretRef: 'clusters/c1',
    ...(durability ? { durability } : {}),
  };
  const events: [string, unknown][] = [
    ['ClusterRequested', requested],
    ...NODES.map((nodeId, i): [string, unknown] => [
      'NodeProvisioned',
      { nodeId, role: nodes[i]!.role, port: 6000 + i },
    ]),
    ['ReplicationEstablished', { leader: 'node1', followers: ['node2', 'node3'] }],
    ['ClusterReady', { leader: 'node1', host: '127.0.0.1', port: 5432, database: 'app', user: 'app' }],
    ...NODES.map((nodeId): [string, unknown] => ['NodeHealthChanged', { nodeId, health: 'healthy', timeline: 1 }]),
    ...more,
  ];
  for (const [type, data] of events) applyToClusters(map, ev(type, data));
  return map.get('c1')!;
}

const show = (entry: ClusterEntry, live: LiveNode[] | { error: string } = { error: 'node status unavailable: x' }) =>
  showCluster(entry.summary, entry.view, live);

/** The text table's row of a node, cut at the header's column starts: every column, empty ones too. */
function rowOf(text: string, nodeId: string): string[] {
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('NODE '))!;
  const starts = [...header.matchAll(/\S+/g)].map((m) => m.index);
  const row = lines.find((l) => l.startsWith(`${nodeId} `))!;
  return starts.map((start, i) => row.slice(start, starts[i + 1]).trim());
}

const failoverStarted = (term = 1): [string, unknown][] => [
  ['OperationRequested', { operationId: 'op-f', kind: 'failover', params: {} }],
  ['FailoverStarted', { operationId: 'op-f', term, from: 'node1', reason: 'leader unreachable for 2 s' }],
  ['NodeHealthChanged', { nodeId: 'node1', health: 'unreachable', reason: 'connection refused' }],
];

describe('cluster show, from the folded cluster stream', () => {
  it('after a failover: the term, node1 → node2 with its reason and duration, node1 fenced, followers sync', () => {
    const entry = fold([
      ...failoverStarted(),
      ['OperationStepCompleted', { operationId: 'op-f', step: 'fence' }],
      ['LeaderChanged', { from: 'node1', to: 'node2', reason: 'failover', term: 1, timeline: 2 }],
      ['NodeHealthChanged', { nodeId: 'node3', health: 'healthy', timeline: 2, lagBytes: 1536 }],
      ['OperationSucceeded', { operationId: 'op-f', result: { from: 'node1', to: 'node2' } }],
    ]);
    const c = show(entry);
    expect(c).toMatchObject({
      durability: 'available',
      term: 1,
      timeline: 2,
      syncDegradedAt: null,
      dataLossFailover: null,
      lastFailover: { term: 1, from: 'node1', to: 'node2', status: 'succeeded', durationMs: 3000 },
    });
    expect(c.nodes.find((n) => n.nodeId === 'node1')).toMatchObject({
      role: 'follower',
      health: 'unreachable',
      fenced: true,
      replication: null,
    });
    expect(c.nodes.find((n) => n.nodeId === 'node3')).toMatchObject({ replication: 'sync', lagBytes: 1536 });

    const text = renderCluster(c);
    expect(text).toContain('cluster shop (c1) plan business-1024, PostgreSQL 15, ready');
    expect(text).toContain('durability available, failover term 1, timeline 2');
    expect(text).toContain(
      'last failover: term 1, node1 → node2 at 2026-11-25T10:00:11Z (leader unreachable for 2 s), took 3.0 s',
    );
    expect(text).not.toContain('--accept-data-loss');
    expect(text).toMatch(/NODE\s+ROLE\s+STATE\s+HEALTH\s+PORT\s+TL\s+LAG\s+SYNC\s+FENCED/);
    // Unreachable: its last known timeline stays (no sync role, being fenced).
    expect(rowOf(text, 'node1')).toEqual([
      'node1',
      'follower',
      'unknown',
      'unreachable',
      '6000',
      '1',
      'unknown',
      '',
      'yes',
    ]);
    expect(rowOf(text, 'node2')).toEqual(['node2', 'leader', 'unknown', 'healthy', '6001', '1', '', '', 'no']);
    expect(rowOf(text, 'node3')).toEqual([
      'node3',
      'follower',
      'unknown',
      'healthy',
      '6002',
      '2',
      '1.5 KiB',
      'sync',
      'no',
    ]);
    expect(text).toContain('node status unavailable: x (nodes as last recorded)');
  });

  it('while a failover runs (durability available): says so, and how to promote a follower that may lose data', () => {
    const c = show(fold([...failoverStarted(2)]));
    expect(c.lastFailover).toMatchObject({ status: 'running', to: null, endedAt: null, durationMs: null });
    expect(c.dataLossFailover).toEqual({
      reason: 'the failover of term 2 is running',
      command: 'pgfleet cluster failover shop --to NODE --accept-data-loss',
      candidates: ['node2', 'node3'],
    });
    const text = renderCluster(c);
    expect(text).toContain('failover running: term 2 from node1 at 2026-11-25T10:00:11Z (leader unreachable for 2 s)');
    expect(text).toContain(
      'note: the failover of term 2 is running\n' +
        '  with durability available, a follower that may miss acknowledged commits is promoted only with:\n' +
        '  pgfleet cluster failover shop --to NODE --accept-data-loss   (NODE: node2, node3)',
    );
  });

  it('sync replication degraded: the line says since when, followers are async, the unhealthy are named', () => {
    const c = show(
      fold([
        ['NodeHealthChanged', { nodeId: 'node3', health: 'unreachable', reason: 'killed' }],
        ['NodeHealthChanged', { nodeId: 'node2', health: 'lagging', timeline: 1, lagBytes: 50 * 1024 * 1024 }],
        ['SyncReplicationDegraded', { leader: 'node1', reason: 'no follower acknowledges commits' }],
      ]),
    );
    expect(c.syncDegradedAt).toBe('2026-11-25T10:00:12Z');
    expect(c.nodes.map((n) => n.replication)).toEqual([null, 'async', 'async']);
    const text = renderCluster(c);
    expect(text).toContain(
      'synchronous replication degraded since 2026-11-25T10:00:12Z: writes are not acknowledged by a follower',
    );
    expect(rowOf(text, 'node2')).toEqual([
      'node2',
      'follower',
      'unknown',
      'lagging',
      '6001',
      '1',
      '50 MiB',
      'async',
      'no',
    ]);
    expect(text).toContain('note: node2 is lagging; node3 is unreachable\n  with durability available');
    // An unreachable follower cannot be promoted: only node2 is offered.
    expect(text).toContain('--accept-data-loss   (NODE: node2)');

    const restored = show(
      fold([
        ['SyncReplicationDegraded', { leader: 'node1', reason: 'no follower' }],
        ['SyncReplicationRestored', { leader: 'node1', synchronousStandbyNames: 'ANY 1 (node2, node3)' }],
      ]),
    );
    expect(restored.syncDegradedAt).toBeNull();
    expect(renderCluster(restored)).not.toContain('degraded');
    expect(restored.nodes.map((n) => n.replication)).toEqual([null, 'sync', 'sync']);
  });

  it('strict durability (at creation or changed later) never offers a promotion that may lose commits', () => {
    const unhealthy: [string, unknown] = ['NodeHealthChanged', { nodeId: 'node3', health: 'unreachable' }];
    for (const entry of [
      fold([unhealthy], 'strict'),
      fold([['DurabilityChanged', { durability: 'strict' }], unhealthy, ...failoverStarted()]),
    ]) {
      const c = show(entry);
      expect(c.durability).toBe('strict');
      expect(c.dataLossFailover).toBeNull();
      expect(renderCluster(c)).toContain('durability strict, failover term');
      expect(renderCluster(c)).not.toContain('--accept-data-loss');
    }
  });

  it('a failed failover names its step and reason; a cluster never failed over says none', () => {
    const failed = show(
      fold([
        ...failoverStarted(),
        ['OperationFailed', { operationId: 'op-f', step: 'promote', reason: 'no follower confirmed' }],
      ]),
    );
    expect(failed.lastFailover).toMatchObject({ status: 'failed', durationMs: 2000 });
    expect(renderCluster(failed)).toContain(
      'last failover: term 1 from node1 at 2026-11-25T10:00:11Z (leader unreachable for 2 s) failed at step ' +
        'promote: no follower confirmed, took 2.0 s',
    );
    const calm = renderCluster(show(fold([])));
    expect(calm).toContain('durability available, failover term 0, timeline 1\nlast failover: none');
  });

  it('merges what PostgreSQL says now: live role, state, lag and timeline win over the recorded ones', () => {
    const live: LiveNode[] = [
      { nodeId: 'node1', role: 'leader', state: 'running', port: 6000, pid: 41, timeline: 1, lagBytes: 0 },
      { nodeId: 'node2', role: 'follower', state: 'running', port: 6001, timeline: 1, lagBytes: 0, sync: 'quorum' },
      { nodeId: 'node3', role: 'unknown', state: 'stopped', port: 6002, lagBytes: null },
    ];
    const c = show(fold([]), live);
    expect(c.nodeStatusError).toBeUndefined();
    expect(c.nodes[0]).toMatchObject({ role: 'leader', state: 'running', pid: 41, lagBytes: 0, replication: null });
    expect(c.nodes[1]).toMatchObject({ sync: 'quorum', replication: 'sync', lagBytes: 0 });
    // Stopped: PostgreSQL does not answer, so the role is the recorded one and the lag is unknown.
    expect(c.nodes[2]).toMatchObject({ role: 'follower', state: 'stopped', lagBytes: null, timeline: 1 });
    const text = renderCluster(c);
    expect(rowOf(text, 'node1')).toEqual(['node1', 'leader', 'running', 'healthy', '6000', '1', '0 B', '', 'no']);
    expect(rowOf(text, 'node3')).toEqual([
      'node3',
      'follower',
      'stopped',
      'healthy',
      '6002',
      '1',
      'unknown',
      'sync',
      'no',
    ]);
    expect(text).not.toContain('unavailable');
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(120);
  });
});

describe('cluster show: disk used / limit, from the disk-{clusterId} stream', () => {
  const MiB = 1024 * 1024;
  const GiB = 1024 * MiB;
  const disk = (events: [string, unknown][]) =>
    foldDisk(events.map(([type, data]) => ({ ...ev(type, data), streamId: 'disk-c1' })));

  it("before the first measurement: the plan's limit, used unknown", () => {
    const c = show(fold([]));
    expect(c.disk).toEqual({
      used: null,
      limit: 20 * GiB,
      over: false,
      overSince: null,
      measuredAt: null,
      onOverQuota: 'warn',
    });
    expect(renderCluster(c)).toContain('\ndisk: not measured yet / 20 GiB\n');
  });

  it('the last recorded measurement against its limit; over the quota, since when and what writes do', () => {
    const measured = disk([['DiskUsageMeasured', { clusterId: 'c1', used: 31 * MiB, limit: 20 * GiB }]]);
    const under = showCluster(fold([]).summary, fold([]).view, { error: 'x' }, measured);
    expect(under.disk).toMatchObject({ used: 31 * MiB, limit: 20 * GiB, over: false });
    expect(renderCluster(under)).toContain('\ndisk: 31 MiB / 20 GiB (0%)\n');

    const over = disk([
      ['DiskUsageMeasured', { clusterId: 'c1', used: 31 * MiB, limit: 64 * MiB }],
      ['QuotaExceeded', { kind: 'disk', clusterId: 'c1', used: 80 * MiB, limit: 64 * MiB }],
    ]);
    const c = showCluster(fold([]).summary, fold([]).view, { error: 'x' }, over);
    expect(c.disk).toMatchObject({ used: 80 * MiB, limit: 64 * MiB, over: true });
    expect(c.disk?.overSince).toMatch(/^2026-11-25T10:00:/);
    expect(renderCluster(c)).toMatch(
      /\ndisk: 80 MiB \/ 64 MiB \(125%\), over quota since \S+: writes go on \(plan: warn\)\n/,
    );
  });
});

describe('cluster show on the docker runtime', () => {
  it('names the host (NodePlaced) and the container of every node, and says when hosts are fewer than nodes', () => {
    const hosts = ['unix:///h1/podman.sock', 'unix:///h2/podman.sock', 'unix:///h1/podman.sock'];
    const entry = fold(NODES.map((nodeId, i): [string, unknown] => ['NodePlaced', { nodeId, host: hosts[i] }]));
    const live: LiveNode[] = NODES.map((nodeId) => ({
      nodeId,
      state: 'running',
      container: `pgfleet-c1-c1--${nodeId}`,
    }));
    const shown = show(entry, live);
    expect(shown.nodes.map((n) => [n.host, n.container])).toEqual(
      NODES.map((nodeId, i) => [hosts[i], `pgfleet-c1-c1--${nodeId}`]),
    );
    const text = renderCluster(shown);
    expect(text).toContain('placement: (closest spread: 3 nodes on 2 hosts)');
    expect(text).toContain('  node2 on unix:///h2/podman.sock, container pgfleet-c1-c1--node2');
  });

  it('names the host (GatewayPlaced) and address of every gateway placed, and the closest spread', () => {
    const entry = fold(NODES.map((nodeId): [string, unknown] => ['NodePlaced', { nodeId, host: 'unix:///h1/p.sock' }]));
    const gateways = foldGateways([
      {
        type: 'GatewayPlaced',
        data: { gatewayId: 'gw2', host: 'unix:///h2/p.sock', address: '127.0.0.1', port: 7002, readOnlyPort: 7003 },
      },
      {
        type: 'GatewayPlaced',
        data: { gatewayId: 'gw1', host: 'unix:///h1/p.sock', address: '127.0.0.1', port: 7000, readOnlyPort: 7001 },
      },
      { type: 'GatewayStarted', data: { gatewayId: 'gw1', host: '127.0.0.1', port: 7000, readOnlyPort: 7001 } },
      { type: 'GatewayStarted', data: { gatewayId: 'gw2', host: '127.0.0.1', port: 7002 } },
    ]);
    const shown = showCluster(entry.summary, entry.view, { error: 'x' }, undefined, gateways);
    expect(shown.gateways).toEqual([
      { gatewayId: 'gw1', address: '127.0.0.1:7000', readOnlyAddress: '127.0.0.1:7001', host: 'unix:///h1/p.sock' },
      { gatewayId: 'gw2', address: '127.0.0.1:7002', host: 'unix:///h2/p.sock' },
    ]);
    const text = renderCluster(shown);
    expect(text).toContain('placement: (closest spread: 3 nodes on 1 host)');
    expect(text).toContain('gateways:\n  gw1 on unix:///h1/p.sock, serving 127.0.0.1:7000\n  gw2 on unix:///h2/p.sock');
    const together = foldGateways([
      {
        type: 'GatewayPlaced',
        data: { gatewayId: 'gw1', host: 'unix:///h1/p.sock', address: '127.0.0.1', port: 7000, readOnlyPort: 7001 },
      },
      {
        type: 'GatewayPlaced',
        data: { gatewayId: 'gw2', host: 'unix:///h1/p.sock', address: '127.0.0.1', port: 7000, readOnlyPort: 7001 },
      },
      { type: 'GatewayStarted', data: { gatewayId: 'gw1', host: '127.0.0.1', port: 7000 } },
      { type: 'GatewayStarted', data: { gatewayId: 'gw2', host: '127.0.0.1', port: 7000 } },
    ]);
    const one = renderCluster(showCluster(entry.summary, entry.view, { error: 'x' }, undefined, together));
    expect(one).toContain('gateways: (closest spread: 2 gateways on 1 host)');
  });

  it('prints no placement on the process runtime', () => {
    expect(renderCluster(show(fold([])))).not.toContain('placement');
  });
});
