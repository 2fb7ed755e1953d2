import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@pgfleet/contracts';
import { applyToClusters, type ClusterEntry } from './projection.js';

let version = 0;
const ev = (type: string, data: unknown, streamId = 'cluster-c1'): EventEnvelope =>
  ({
    id: `0190a000-0000-7000-8000-${String(++version).padStart(12, '0')}`,
    type,
    data,
    streamId,
    streamVersion: version,
    globalPosition: String(version),
    occurredAt: `2026-11-25T10:00:${String(version).padStart(2, '0')}Z`,
    schemaVersion: 1,
    correlationId: 'c',
    causationId: null,
    actor: { kind: 'user', id: 'test' },
  }) as EventEnvelope;

describe('cluster list projection', () => {
  it('folds a cluster from requested to ready, failed, retried and deleted; ignores other streams', () => {
    const map = new Map<string, ClusterEntry>();
    const row = () => map.get('c1')?.summary;
    const nodes = [{ nodeId: 'node1', role: 'leader' }];
    const requested = { clusterId: 'c1', name: 'shop', accountId: 'default', plan: 'starter-512', version: 15, nodes };
    applyToClusters(map, ev('ClusterRequested', { ...requested, secretRef: 'x' }));
    expect(row()).toMatchObject({ name: 'shop', status: 'provisioning', nodes: 1, leader: 'node1' });
    applyToClusters(map, ev('ClusterProvisioningFailed', { reason: 'disk full' }));
    expect(row()).toMatchObject({ status: 'failed', failureReason: 'disk full' });
    applyToClusters(map, ev('ClusterProvisioningRetried', {}));
    const ready = { leader: 'node1', host: '127.0.0.1', port: 5432, database: 'app', user: 'app' };
    applyToClusters(map, ev('ClusterReady', ready));
    expect(row()).toMatchObject({ status: 'ready', failureReason: undefined });
    applyToClusters(map, ev('BackupRequested', { backupId: 'b1', clusterId: 'c1', kind: 'manual' }, 'backups-c1'));
    expect(row()!.streamVersion).toBe(4);
    applyToClusters(map, ev('ClusterDeleted', {}));
    expect(row()!.status).toBe('deleted');
  });

  it("keeps each cluster's operations: found by id with their cluster, steps with times, result or error", () => {
    const map = new Map<string, ClusterEntry>();
    const nodes = [{ nodeId: 'node1', role: 'leader' }];
    const requested = { clusterId: 'c2', name: 'ops', accountId: 'default', plan: 'starter-512', version: 15, nodes };
    applyToClusters(map, ev('ClusterRequested', { ...requested, secretRef: 'x' }, 'cluster-c2'));
    const op = { operationId: 'op-1', kind: 'switchover', params: { to: 'node2' } };
    applyToClusters(map, ev('OperationRequested', op, 'cluster-c2'));
    applyToClusters(map, ev('OperationStepCompleted', { operationId: 'op-1', step: 'fence' }, 'cluster-c2'));
    applyToClusters(map, ev('OperationFailed', { operationId: 'op-1', step: 'promote', reason: 'no' }, 'cluster-c2'));
    const view = map.get('c2')!.view;
    const found = view.ops.operations[0]!;
    expect(found).toMatchObject({ operationId: 'op-1', status: 'failed', failedStep: 'promote', error: 'no' });
    expect(found.steps).toEqual([{ step: 'fence', at: expect.stringMatching(/^2026-11-25T10:00/) }]);
  });

  it('keeps the events a consumer gave up on (HandlingFailed), once each, for cluster show', () => {
    const map = new Map<string, ClusterEntry>();
    const nodes = [{ nodeId: 'node1', role: 'leader' }];
    const requested = { clusterId: 'c3', name: 'park', accountId: 'default', plan: 'starter-512', version: 15, nodes };
    applyToClusters(map, ev('ClusterRequested', { ...requested, secretRef: 'x' }, 'cluster-c3'));
    const parked = { consumer: 'backup', eventId: 'e-1', eventType: 'BackupRequested', error: 'pg_dump failed' };
    applyToClusters(map, ev('HandlingFailed', parked, 'cluster-c3'));
    expect(map.get('c3')!.view.ops.handlingFailures).toEqual([expect.objectContaining(parked)]);
  });
});
