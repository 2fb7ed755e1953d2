import { describe, expect, it } from 'vitest';
import { accountGuard } from './accountGuard.js';
import { memoryStore } from './memoryStore.fixture.js';

const requested = (clusterId: string, accountId: string) => ({
  type: 'ClusterRequested',
  data: {
    clusterId,
    name: clusterId,
    accountId,
    plan: 'sandbox',
    version: 15,
    nodes: [{ nodeId: 'node1', role: 'leader' }],
    secretRef: `clusters/${clusterId}`,
  },
});

describe('accountGuard: a command scoped to an account acts on that account only', () => {
  const { store } = memoryStore();
  const guard = accountGuard(store);

  it('lets through commands without meta.account (the admin, the services)', async () => {
    await store.appendToStream('cluster-a1', [requested('a1', 'acme') as never]);
    expect(await guard('DeleteCluster', { clusterId: 'a1' }, {})).toBeUndefined();
    expect(await guard('CreateCluster', { accountId: 'globex' }, {})).toBeUndefined();
  });

  it("refuses another account's cluster (or a missing one) the same way, naming the field", async () => {
    const other = await guard('DeleteCluster', { clusterId: 'a1' }, { account: 'globex' });
    const missing = await guard('DeleteCluster', { clusterId: 'zz' }, { account: 'globex' });
    expect(other).toEqual({
      ok: false,
      code: 'CLUSTER_NOT_FOUND',
      message: 'no cluster a1',
      details: { field: 'clusterId' },
    });
    expect(missing).toMatchObject({ ok: false, code: 'CLUSTER_NOT_FOUND', details: { field: 'clusterId' } });
    const target = await guard('RestoreBackup', { clusterId: 'zz', targetClusterId: 'a1' }, { account: 'acme' });
    expect(target).toMatchObject({ code: 'CLUSTER_NOT_FOUND', details: { field: 'clusterId' } });
  });

  it('checks the target cluster too, and accepts the account’s own', async () => {
    await store.appendToStream('cluster-g1', [requested('g1', 'globex') as never]);
    const intoOther = await guard('RestoreBackup', { clusterId: 'g1', targetClusterId: 'a1' }, { account: 'globex' });
    expect(intoOther).toMatchObject({ code: 'CLUSTER_NOT_FOUND', details: { field: 'targetClusterId' } });
    expect(await guard('RequestBackup', { clusterId: 'g1' }, { account: 'globex' })).toBeUndefined();
  });

  it('refuses a command naming another account than its scope', async () => {
    expect(await guard('CreateCluster', { accountId: 'acme' }, { account: 'globex' })).toMatchObject({
      code: 'ACCOUNT_FORBIDDEN',
      details: { field: 'accountId' },
    });
    expect(await guard('CreateCluster', { accountId: 'globex' }, { account: 'globex' })).toBeUndefined();
  });
});
