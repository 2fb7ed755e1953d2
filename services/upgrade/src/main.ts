import { runService } from '@pgfleet/kit';
import { openSecretStore } from '@pgfleet/postgres';
import { createNodeRuntime } from '@pgfleet/runtime';
import { requestUpgrade } from './commands.js';
import { UpgradeConfig } from './config.js';
import { majorUpgradeOperation } from './operations/majorUpgrade.js';

/**
 * The upgrade service: `UpgradeCluster` (pgfleet upgrade NAME --to 15 [--check]) asks for a
 * `major-upgrade` operation on the cluster's stream; runService runs it (one per cluster at a time)
 * and resumes at start one a crash interrupted, at its first step not recorded.
 */
await runService({
  name: 'upgrade',
  config: UpgradeConfig,
  setup: ({ config, home, store, nc }) => {
    const runtime = createNodeRuntime({ home });
    const deps = {
      store,
      runtime,
      nc,
      home,
      secrets: openSecretStore(home),
      streamingTimeoutMs: config.PGFLEET_UPGRADE_STREAMING_SECONDS * 1000,
    };
    return { config, deps };
  },
  commands: (d) => ({ UpgradeCluster: (data, meta) => requestUpgrade(d.deps, data, meta) }),
  operations: (d) => ({ 'major-upgrade': majorUpgradeOperation(d.deps) }),
  operationsDurable: (d) => `${d.config.PGFLEET_UPGRADE_DURABLE}-operations`,
});
