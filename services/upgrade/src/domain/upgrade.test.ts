import { describe, expect, it } from 'vitest';
import { evolveClusterView, initialClusterView, type ClusterEvent, type ClusterView } from '@pgfleet/contracts';
import { decideClusterUpgraded, decideUpgradeRequest } from './upgrade.js';

const given = (...events: ClusterEvent[]): ClusterView => events.reduce(evolveClusterView, initialClusterView());

const requested: ClusterEvent = {
  type: 'ClusterRequested',
  data: {
    clusterId: 'c1',
    name: 'shop',
    accountId: 'default',
    plan: 'business-s',
    version: 13,
    nodes: [
      { nodeId: 'n1', role: 'leader' },
      { nodeId: 'n2', role: 'follower' },
    ],
    secretRef: 'cluster/c1/app',
  },
};
const ready: ClusterEvent[] = [
  requested,
  { type: 'NodeProvisioned', data: { nodeId: 'n1', role: 'leader', port: 6001 } },
  { type: 'NodeProvisioned', data: { nodeId: 'n2', role: 'follower', port: 6002 } },
  { type: 'ClusterReady', data: { leader: 'n1', host: '127.0.0.1', port: 7001, database: 'app', user: 'app' } },
];
const upgrade = (toVersion: 13 | 15, checkOnly = false) => ({ clusterId: 'c1', toVersion, checkOnly });

describe('upgrade decisions', () => {
  it('given a ready 13 cluster, when asked for 15, then a major-upgrade from 13 to 15', () => {
    expect(decideUpgradeRequest(given(...ready), upgrade(15, true))).toEqual({
      ok: true,
      params: { fromVersion: 13, toVersion: 15, checkOnly: true },
    });
  });

  it('given no cluster, when asked, then CLUSTER_NOT_FOUND', () => {
    const r = decideUpgradeRequest(given(), upgrade(15));
    expect(r).toMatchObject({ ok: false, rejection: { code: 'CLUSTER_NOT_FOUND', details: { field: 'clusterId' } } });
  });

  it('given a cluster still provisioning, when asked, then CLUSTER_NOT_READY', () => {
    expect(decideUpgradeRequest(given(requested), upgrade(15))).toMatchObject({
      ok: false,
      rejection: { code: 'CLUSTER_NOT_READY', message: 'cluster shop is provisioning, not ready for an upgrade' },
    });
  });

  it('given a cluster on 13, when asked for 13, then ALREADY_ON_VERSION naming the field', () => {
    expect(decideUpgradeRequest(given(...ready), upgrade(13))).toMatchObject({
      ok: false,
      rejection: { code: 'ALREADY_ON_VERSION', details: { field: 'toVersion' } },
    });
  });

  it('given an upgraded cluster, when asked for 13, then a downgrade is refused', () => {
    const upgraded: ClusterEvent = {
      type: 'ClusterUpgraded',
      data: { fromVersion: 13, toVersion: 15, at: '2026-12-01T00:00:00Z', operationId: 'op1' },
    };
    const view = given(...ready, upgraded);
    expect(view.version).toBe(15);
    expect(decideUpgradeRequest(view, upgrade(13))).toMatchObject({
      ok: false,
      rejection: { code: 'DOWNGRADE_NOT_SUPPORTED' },
    });
  });

  it('given an operation running, when asked, then OPERATION_IN_PROGRESS naming it', () => {
    const op: ClusterEvent = { type: 'OperationRequested', data: { operationId: 'op9', kind: 'restart', params: {} } };
    expect(decideUpgradeRequest(given(...ready, op), upgrade(15))).toMatchObject({
      ok: false,
      rejection: { code: 'OPERATION_IN_PROGRESS', details: { operationId: 'op9' } },
    });
  });

  it('records ClusterUpgraded once: a cluster already on the new version gets nothing more', () => {
    const cmd = {
      type: 'RecordClusterUpgraded' as const,
      fromVersion: 13 as const,
      toVersion: 15 as const,
      at: '2026-12-01T00:00:00Z',
      operationId: 'op1',
    };
    const first = decideClusterUpgraded(cmd, given(...ready));
    expect(first).toMatchObject({ ok: true, events: [{ type: 'ClusterUpgraded', data: { toVersion: 15 } }] });
    const again = decideClusterUpgraded(cmd, given(...ready, ...(first.ok ? first.events : [])));
    expect(again).toEqual({ ok: true, events: [] });
  });
});
