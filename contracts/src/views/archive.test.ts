import { describe, expect, it } from 'vitest';
import { commandSchema, COMMANDS } from '../commands/index.js';
import { clusterEvents } from '../events/cluster.js';
import { parseWith } from '../validation.js';
import { archiveSetupOf, archiveStanzaOf, foldClusterView } from './cluster.js';

const requested = (plan: string, restoreFrom?: { clusterId: string; targetTime: string }) => ({
  type: 'ClusterRequested',
  data: {
    clusterId: 'db-1a2b',
    name: 'mydb',
    accountId: 'default',
    plan,
    version: 15,
    nodes: [{ nodeId: 'node1', role: 'leader' }],
    secretRef: 'cluster/db-1a2b/app',
    ...(restoreFrom ? { restoreFrom } : {}),
  },
});

describe('archiveStanzaOf: which nodes archive their WAL, and where', () => {
  it("names the cluster's own stanza on plans with a PITR window (Starter, Business)", () => {
    for (const plan of ['starter-512', 'business-1024']) {
      const view = foldClusterView([requested(plan)]);
      expect(archiveStanzaOf(view)).toBe('db-1a2b');
      expect(archiveSetupOf(view)).toEqual({ archive: { stanza: 'db-1a2b' } });
    }
  });

  it('gives Sandbox nodes, an unknown plan and a cluster not yet requested no archive', () => {
    expect(archiveStanzaOf(foldClusterView([requested('sandbox')]))).toBeUndefined();
    expect(archiveSetupOf(foldClusterView([requested('sandbox')]))).toEqual({});
    expect(archiveStanzaOf({ clusterId: 'db-1a2b', plan: 'gold-9' })).toBeUndefined();
    expect(archiveStanzaOf(foldClusterView([]))).toBeUndefined();
  });

  it("a fork archives to its own stanza, not to its source's; the view keeps where it came from", () => {
    const restoreFrom = { clusterId: 'prod-9f9f', targetTime: '2026-11-30T10:15:00+01:00' };
    const view = foldClusterView([requested('starter-512', restoreFrom)]);
    expect(view.restoreFrom).toEqual(restoreFrom);
    expect(archiveStanzaOf(view)).toBe('db-1a2b');
  });
});

describe('CreateCluster.restoreFrom: a time of the archive, with its offset', () => {
  const create = COMMANDS.provisioning.CreateCluster;
  const base = { name: 'fork-db', plan: 'starter-512' };

  it('accepts ISO 8601 times with an offset or Z, and no restoreFrom at all', () => {
    for (const targetTime of [
      '2026-11-30T10:15:00+01:00',
      '2026-11-30T09:15:00Z',
      '2026-11-30T09:15:00.123456-05:30',
    ]) {
      const parsed = create.safeParse({ ...base, restoreFrom: { clusterId: 'prod-9f9f', targetTime } });
      expect(parsed.success, targetTime).toBe(true);
    }
    expect(create.parse(base)).not.toHaveProperty('restoreFrom');
  });

  it('refuses a time without an offset, naming the field', () => {
    for (const targetTime of ['2026-11-30T10:15:00', '2026-11-30 10:15:00+01:00', 'yesterday', '2026-11-30']) {
      const input = { ...base, restoreFrom: { clusterId: 'prod-9f9f', targetTime } };
      const result = parseWith(commandSchema('provisioning', 'CreateCluster')!, input, 'CreateCluster');
      expect(result.ok, targetTime).toBe(false);
      if (result.ok) continue;
      expect(result.rejection).toMatchObject({
        code: 'VALIDATION_FAILED',
        details: { field: 'restoreFrom.targetTime' },
      });
      expect(result.rejection.message).toMatch(/restoreFrom\.targetTime: must be an ISO 8601 time with an offset/);
    }
  });

  it('refuses a source that is not a cluster id', () => {
    const input = { ...base, restoreFrom: { clusterId: 'a.b', targetTime: '2026-11-30T09:15:00Z' } };
    const result = parseWith(create, input, 'CreateCluster');
    expect(result.ok ? undefined : result.rejection.details?.field).toBe('restoreFrom.clusterId');
  });

  it('ClusterRequested records it, optional (clusters created before it stay valid)', () => {
    const schema = clusterEvents.ClusterRequested;
    expect(schema.safeParse(requested('starter-512').data).success).toBe(true);
    const fork = requested('starter-512', { clusterId: 'prod-9f9f', targetTime: '2026-11-30T09:15:00Z' });
    expect(schema.parse(fork.data)).toMatchObject({ restoreFrom: { clusterId: 'prod-9f9f' } });
    const local = requested('starter-512', { clusterId: 'prod-9f9f', targetTime: '2026-11-30T09:15:00' });
    expect(schema.safeParse(local.data).success).toBe(false);
  });
});
