import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { findPlan } from '@pgfleet/contracts';
import { freePort, initNode, ownedTempDir, toolchain, withClient } from '@pgfleet/postgres';
import { createProcessRuntime } from './processRuntime.js';
import { processesIn } from './postmaster.js';

let home: string | undefined;
let cleanup: (() => Promise<void>) | undefined;

afterAll(async () => {
  await cleanup?.().catch(() => undefined);
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('process runtime with PostgreSQL 13', () => {
  it('initializes and starts a 13 node with checksums and scram', async () => {
    expect(toolchain(13).binDir).toContain('13');
    home = await ownedTempDir('pgfleet-pg13-');
    const runtime = createProcessRuntime({ home });
    const node = await runtime.create({ clusterId: 'c13', nodeId: 'n1', major: 13, port: await freePort() });
    cleanup = () => runtime.remove(node.nodeId);
    await initNode({ major: 13, dataDir: node.dataDir, port: node.port, plan: findPlan('sandbox')! });
    await runtime.start(node.nodeId);
    const settings = `SELECT current_setting('server_version_num') AS v, current_setting('data_checksums') AS c,
                             current_setting('password_encryption') AS p`;
    const [row] = await withClient(
      { host: node.socketDir, port: node.port },
      async (q) => (await q.query(settings)).rows,
    );
    expect(row).toMatchObject({ c: 'on', p: 'scram-sha-256', v: expect.stringMatching(/^13\d{4}$/) });
    await runtime.remove(node.nodeId);
    expect(processesIn(node.dataDir)).toEqual([]);
  });
});
