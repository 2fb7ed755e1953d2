import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { foldClusterHistory, readClusterHistory } from './clusterHistory.js';

let n = 0;
const ev = (streamId: string, globalPosition: string, type: string, data: unknown): EventEnvelope =>
  ({
    id: `0190a000-0000-7000-8000-${String(++n).padStart(12, '0')}`,
    type,
    data,
    streamId,
    streamVersion: n,
    globalPosition,
    occurredAt: `2026-11-25T10:00:${String(Number(globalPosition) % 60).padStart(2, '0')}Z`,
    schemaVersion: 1,
    correlationId: 'c',
    causationId: null,
    actor: { kind: 'user', id: 'test' },
  }) as EventEnvelope;

const nodes = [
  { nodeId: 'node1', role: 'leader' },
  { nodeId: 'node2', role: 'follower' },
];
const requested = { clusterId: 'c1', name: 'shop', accountId: 'default', plan: 'business-1024', version: 15, nodes };
const ready = { leader: 'node1', host: '127.0.0.1', port: 5432, database: 'app', user: 'app' };
const streams: Record<string, EventEnvelope[]> = {
  'cluster-c1': [
    ev('cluster-c1', '1', 'ClusterRequested', { ...requested, secretRef: 'x' }),
    ev('cluster-c1', '4', 'ClusterReady', ready),
    ev('cluster-c1', '10000000000000000001', 'LeaderChanged', { from: 'node1', to: 'node2', timeline: 2 }),
  ],
  'gateway-c1': [
    ev('gateway-c1', '5', 'GatewayStarted', { gatewayId: 'gw1', host: '127.0.0.1', port: 6432 }),
    ev('gateway-c1', '6', 'GatewayLeaderSet', { leader: 'node1', gatewayIds: ['gw1'] }),
    ev('gateway-c1', '9', 'TlsForced', { nodes: ['node1', 'node2'] }),
  ],
  'backups-c1': [
    ev('backups-c1', '7', 'BackupRequested', { backupId: 'b1', clusterId: 'c1', kind: 'manual' }),
    ev('backups-c1', '8', 'BackupStarted', { backupId: 'b1', node: 'node2' }),
    ev('backups-c1', '10', 'BackupCompleted', { backupId: 'b1', size: 10, sha256: 'a'.repeat(64), durationMs: 5 }),
  ],
};
const store = {
  readStream: async (streamId: string) => ({ events: streams[streamId] ?? [], currentVersion: 0 }),
} as unknown as EventStore;

describe('one history per cluster', () => {
  it('merges the cluster, gateway and backups streams in global order (positions as big integers)', async () => {
    const history = await readClusterHistory(store, 'c1');
    expect(history.map((e) => e.globalPosition)).toEqual([
      '1',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
      '10000000000000000001',
    ]);
  });

  it('folds all of them with the contracts views: nodes and leader, gateways, TLS, backups available', async () => {
    const history = await readClusterHistory(store, 'c1');
    const beforeTls = foldClusterHistory(history.filter((e) => Number(e.globalPosition) <= 8));
    expect(beforeTls).toMatchObject({ status: 'ready', leader: 'node1', tls: { forced: false } });
    expect(beforeTls.gateways).toMatchObject({ leader: 'node1', gateways: [{ gatewayId: 'gw1', port: 6432 }] });
    expect(beforeTls.backups.available.map((b) => [b.backupId, b.status])).toEqual([['b1', 'running']]);
    const now = foldClusterHistory(history);
    expect(now).toMatchObject({ leader: 'node2', streamVersion: 3, tls: { forced: true } });
    expect(now.backups.available.map((b) => [b.backupId, b.status])).toEqual([['b1', 'completed']]);
  });
});
