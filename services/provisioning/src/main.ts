import { COMMANDS, Id, streamCategory } from '@pgfleet/contracts';
import { KeyedQueue, runService } from '@pgfleet/kit';
import { openSecretStore } from '@pgfleet/postgres';
import { createNodeRuntime } from '@pgfleet/runtime';
import { z } from 'zod';
import {
  changeExtension,
  changePlan,
  createCluster,
  deleteCluster,
  restartCluster,
  retryCluster,
  setClusterParameters,
  switchoverCluster,
} from './commands.js';
import { ProvisioningConfig } from './config.js';
import { clusterStatus } from './status.js';
import { configExecutor } from './workers/config.js';
import { extensionDisableExecutor, extensionEnableExecutor } from './workers/extensions.js';
import { reconcileCluster } from './workers/reconcile.js';
import { reconcileOperation } from './workers/reconcileOperation.js';
import { restartExecutor } from './workers/restart.js';
import { planChangeExecutor } from './workers/planChange.js';
import { switchoverExecutor } from './workers/switchover.js';
import { UnfinishedClusters } from './workers/unfinished.js';

const ClusterStatusQuery = z.object({ clusterId: Id });
/** The PostgreSQL version of a CreateCluster that names none: its spare data directory is made at start. */
const DEFAULT_MAJOR = COMMANDS.provisioning.CreateCluster.shape.version.parse(undefined);

/** The provisioning service: accepts cluster commands, reacts to cluster events, drives nodes. */
await runService({
  name: 'provisioning',
  config: ProvisioningConfig,
  setup: ({ config, log, home, store }) => {
    // A spare data directory per version: a leader's initdb is a rename, the next spare made in the background.
    const runtime = createNodeRuntime({ home, spares: true });
    const nodeCertDays = config.PGFLEET_NODE_CERT_DAYS;
    const deps = { store, log, home, runtime, secrets: openSecretStore(home), nodeCertDays };
    // Reconciliations of one cluster never overlap; requests during one are coalesced into one more.
    const reconciles = new KeyedQueue(
      (clusterId) => reconcileCluster(deps, clusterId),
      (clusterId, e) => log.error({ clusterId, err: e instanceof Error ? e.message : String(e) }, 'reconcile failed'),
    );
    return { ...deps, durable: config.PGFLEET_PROVISIONING_DURABLE, reconciles, clusters: new UnfinishedClusters() };
  },
  // (replicas share the queue group pgfleet-provisioning)
  commands: (deps) => ({
    CreateCluster: (data, meta) => createCluster(deps, data, meta),
    DeleteCluster: (data, meta) => deleteCluster(deps, data, meta),
    RetryCluster: (data, meta) => retryCluster(deps, data, meta),
    SwitchoverCluster: (data, meta) => switchoverCluster(deps, data, meta),
    ChangePlan: (data, meta) => changePlan(deps, data, meta),
    RestartCluster: (data, meta) => restartCluster(deps, data, meta),
    SetClusterParameters: (data, meta) => setClusterParameters(deps, data, meta),
    EnableExtension: (data, meta) => changeExtension(deps, data, true, meta),
    DisableExtension: (data, meta) => changeExtension(deps, data, false, meta),
  }),
  // Replies `{ nodes }` (or `{ error }`, from runService) as the API expects.
  queries: (deps) => ({
    ClusterStatus: async (request) => {
      const { clusterId } = ClusterStatusQuery.parse(request);
      return { nodes: await clusterStatus(deps, clusterId) };
    },
  }),
  // Operations this service runs (and resumes after a crash): switchover and plan change step by
  // step; delete and retry through the reconciliation, whose outcome ends them.
  operations: (deps) => ({
    switchover: switchoverExecutor(deps),
    'plan-change': planChangeExecutor(deps),
    restart: restartExecutor(deps),
    config: configExecutor(deps),
    'extension-enable': extensionEnableExecutor(deps),
    'extension-disable': extensionDisableExecutor(deps),
    delete: reconcileOperation(deps),
    retry: reconcileOperation(deps),
  }),
  operationsDurable: (deps) => `${deps.durable}-operations`,
  projections: (deps) => [deps.clusters.projection],
  // React to cluster events (through NATS, from the relay); the ack waits for the reconciliation, and
  // a reconciliation that failed (e.g. the event store was unreachable) is not acked: it is redelivered.
  consumers: (deps) => [
    {
      durable: deps.durable,
      filterSubjects: ['pgfleet.events.cluster.>'],
      handle: async (event) => {
        if (streamCategory(event.streamId) !== 'cluster') return;
        await deps.reconciles.request(event.streamId.slice('cluster-'.length));
      },
    },
  ],
  // After a crash: whatever was started and not finished is picked up again.
  started: (deps) => {
    deps.runtime.warm?.(DEFAULT_MAJOR).catch((e: unknown) => {
      const err = e instanceof Error ? e.message : String(e);
      deps.log.warn({ major: DEFAULT_MAJOR, err }, 'no spare data directory: the next create runs initdb');
    });
    for (const clusterId of deps.clusters.list()) deps.reconciles.request(clusterId).catch(() => undefined);
  },
  stop: (deps) => deps.reconciles.idle(),
});
