import { evolveClusterView, initialClusterView, isClusterEvent, streamCategory } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { runService, type Logger } from '@pgfleet/kit';
import { openSecretStore, type SecretStore } from '@pgfleet/postgres';
import { createNodeRuntime, type NodeRuntime } from '@pgfleet/runtime';
import { serveAgent } from './agent.js';
import { failoverCluster, setClusterDurability } from './commands.js';
import { HaConfig } from './config.js';
import { DiskMeter } from './diskMeter.js';
import { failoverExecutor } from './operations/failover.js';
import { rejoinExecutor } from './operations/rejoin.js';
import { Watcher } from './watcher.js';

export interface HaServiceDeps {
  store: EventStore;
  runtime: NodeRuntime;
  secrets: SecretStore;
  home: string;
  watcher: Watcher;
  diskMeter: DiskMeter;
  runOperationNow(clusterId: string): void;
  durable: string;
  log: Logger;
  agentAddress?: string;
  closeAgent?: () => Promise<void>;
}

/**
 * The HA service: probes every data node, fails a lost leader over (fenced, one per term whatever
 * the number of replicas), rejoins old leaders with pg_rewind, keeps synchronous replication as the
 * cluster's durability says, and answers the gateways' agent checks.
 */
await runService({
  name: 'ha',
  config: HaConfig,
  setup: ({ config, log, home, store, runOperationNow }): HaServiceDeps => {
    const runtime = createNodeRuntime({ home });
    const watcher = new Watcher(
      { store, runtime, log, runOperationNow },
      {
        intervalMs: config.PGFLEET_HA_PROBE_INTERVAL_MS,
        probeTimeoutMs: config.PGFLEET_HA_PROBE_TIMEOUT_MS,
        graceMs: config.PGFLEET_HA_LEADER_GRACE_MS,
        lagBytes: config.PGFLEET_HA_LAG_BYTES,
        syncGraceMs: config.PGFLEET_HA_SYNC_GRACE_MS,
        failoverBackoffMs: config.PGFLEET_HA_FAILOVER_BACKOFF_MS,
      },
    );
    const diskMeter = new DiskMeter(
      { store, runtime, log, views: watcher.views },
      {
        intervalMs: config.PGFLEET_HA_DISK_INTERVAL_MS,
        ...(config.PGFLEET_HA_DISK_LIMIT_BYTES ? { limitBytes: config.PGFLEET_HA_DISK_LIMIT_BYTES } : {}),
      },
    );
    return {
      store,
      runtime,
      secrets: openSecretStore(home),
      home,
      watcher,
      diskMeter,
      runOperationNow,
      durable: config.PGFLEET_HA_DURABLE,
      log,
      ...(config.PGFLEET_HA_AGENT ? { agentAddress: config.PGFLEET_HA_AGENT } : {}),
    };
  },
  commands: (deps) => ({
    FailoverCluster: (data, meta) => failoverCluster(deps, data, meta),
    SetClusterDurability: (data, meta) => setClusterDurability(deps, data, meta),
  }),
  operations: (deps) => ({ failover: failoverExecutor(deps), rejoin: rejoinExecutor(deps) }),
  operationsDurable: (deps) => `${deps.durable}-operations`,
  // Every cluster as its stream tells it, kept live: what the watcher probes and the agent answers from.
  projections: (deps) => [
    {
      name: 'ha-clusters',
      apply: (event) => {
        if (streamCategory(event.streamId) !== 'cluster' || !isClusterEvent(event)) return;
        const clusterId = event.streamId.slice('cluster-'.length);
        const view = evolveClusterView(deps.watcher.views.get(clusterId) ?? initialClusterView(), event);
        if (view.status === 'deleted') deps.watcher.views.delete(clusterId);
        else deps.watcher.views.set(clusterId, view);
      },
    },
  ],
  started: (deps) => {
    deps.watcher.start();
    deps.diskMeter.start();
    if (deps.agentAddress) {
      const agent = serveAgent(deps.agentAddress, deps.watcher, deps.log);
      deps.closeAgent = agent.close;
    }
  },
  stop: async (deps) => {
    deps.watcher.stop();
    deps.diskMeter.stop();
    await deps.closeAgent?.();
  },
});
