import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '@pgfleet/contracts';
import { foldClusterView } from './clusterView.js';
import { decideGateways, entryPoint, foldGateways, gatewayIds, initialGatewaysState } from './gateways.js';

const requested: DomainEvent = { type: 'ClusterRequested', data: { clusterId: 'c', name: 'shop', accountId: 'a', plan: 'business-1024', version: 15, secretRef: 'r',
  nodes: [{ nodeId: 'node1', role: 'leader' }, { nodeId: 'node2', role: 'follower' }] } };
const provisioned = (nodeId: string, port: number): DomainEvent => ({ type: 'NodeProvisioned', data: { nodeId, role: 'follower', port, dataDir: '/d' } });
const ready: DomainEvent = { type: 'ClusterReady', data: { leader: 'node1', host: '127.0.0.1', port: 1, database: 'app', user: 'app' } };

describe('gateways, given/when/then', () => {
  it('nothing to do before the cluster is ready', () => {
    const cluster = foldClusterView([requested, provisioned('node1', 5001)]);
    expect(decideGateways(cluster, 2, initialGatewaysState())).toEqual({ kind: 'none' });
  });

  it('a ready cluster: every gateway of the plan, forwarding to the leader, over the provisioned nodes', () => {
    const cluster = foldClusterView([requested, provisioned('node1', 5001), provisioned('node2', 5002), ready]);
    expect(decideGateways(cluster, 2, initialGatewaysState())).toEqual({
      kind: 'ensure', gatewayIds: ['gw1', 'gw2'], leader: 'node1', nodes: [{ nodeId: 'node1', port: 5001 }, { nodeId: 'node2', port: 5002 }],
    });
  });

  it('LeaderChanged: the gateways follow the new leader', () => {
    const cluster = foldClusterView([requested, provisioned('node1', 5001), provisioned('node2', 5002), ready,
      { type: 'LeaderChanged', data: { from: 'node1', to: 'node2', reason: 'switchover' } }]);
    expect(decideGateways(cluster, 2, initialGatewaysState())).toMatchObject({ kind: 'ensure', leader: 'node2' });
  });

  it('a deleted cluster: remove once, then nothing', () => {
    const cluster = foldClusterView([requested, ready, { type: 'ClusterDeletionRequested', data: {} }]);
    const started = foldGateways([{ type: 'GatewayStarted', data: { gatewayId: 'gw1', host: '127.0.0.1', port: 7000 } }]);
    expect(decideGateways(cluster, 1, started)).toEqual({ kind: 'remove', gatewayIds: ['gw1'] });
    const removed = foldGateways([{ type: 'GatewayStarted', data: { gatewayId: 'gw1', host: '127.0.0.1', port: 7000 } }, { type: 'GatewaysRemoved', data: { gatewayIds: ['gw1'] } }]);
    expect(decideGateways(cluster, 1, removed)).toEqual({ kind: 'none' });
    expect(removed.version_).toBe(2);
  });

  it('the entry point is the recorded address; gateway ids follow the plan', () => {
    expect(entryPoint(initialGatewaysState())).toBeUndefined();
    const s = foldGateways([{ type: 'GatewayStarted', data: { gatewayId: 'gw1', host: '127.0.0.1', port: 7000 } }, { type: 'GatewayLeaderSet', data: { leader: 'node1', gatewayIds: ['gw1'] } }]);
    expect(entryPoint(s)).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(s.leader).toBe('node1');
    expect(gatewayIds(1)).toEqual(['gw1']);
  });
});

describe('force TLS, given/when/then', () => {
  it('a ready cluster: every provisioned node; a second time: already forced; not ready or unknown: rejected', async () => {
    const { decideForceTls } = await import('./tls.js');
    const cluster = foldClusterView([requested, provisioned('node1', 5001), provisioned('node2', 5002), ready]);
    expect(decideForceTls(cluster, initialGatewaysState())).toEqual({ ok: true, already: false,
      nodes: [{ nodeId: 'node1', dataDir: '/d', port: 5001 }, { nodeId: 'node2', dataDir: '/d', port: 5002 }] });
    expect(decideForceTls(cluster, foldGateways([{ type: 'TlsForced', data: { nodes: ['node1', 'node2'] } }]))).toMatchObject({ ok: true, already: true });
    expect(decideForceTls(foldClusterView([requested]), initialGatewaysState())).toMatchObject({ ok: false, rejection: { code: 'NOT_READY' } });
    expect(decideForceTls(foldClusterView([]), initialGatewaysState())).toMatchObject({ ok: false, rejection: { code: 'CLUSTER_NOT_FOUND' } });
  });
});

describe('rotate certificates, given/when/then', () => {
  it('every provisioned node of a ready cluster; a cluster being deleted is rejected', async () => {
    const { decideRotateCertificates } = await import('./tls.js');
    const cluster = foldClusterView([requested, provisioned('node1', 5001), ready]);
    expect(decideRotateCertificates(cluster)).toEqual({ ok: true, nodes: [{ nodeId: 'node1', dataDir: '/d', port: 5001 }] });
    const deleting = foldClusterView([requested, ready, { type: 'ClusterDeletionRequested', data: {} }]);
    expect(decideRotateCertificates(deleting)).toMatchObject({ ok: false, rejection: { code: 'NOT_READY' } });
  });
});
