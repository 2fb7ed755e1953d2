import { operationEvents, streamCategory } from '@pgfleet/contracts';
import { KeyedQueue, runService, type Logger, type ServiceContext } from '@pgfleet/kit';
import { createGateways, createNodeRuntime } from '@pgfleet/runtime';
import { exposeCluster, unexposeCluster } from './commands/expose.js';
import { forceTls } from './commands/forceTls.js';
import { rotateCertificates } from './commands/rotateCertificates.js';
import { NetworkingConfig } from './config.js';
import type { OperationDeps } from './operations/deps.js';
import { networkingOperations } from './operations/executors.js';
import { GatewayClusters, gatewayClustersProjection } from './projections/gatewayClusters.js';
import { reconcileGateways } from './workers/reconcileGateways.js';
import { startCertificateRenewal, type CertificateRenewal } from './workers/renewCertificates.js';

interface NetworkingDeps extends OperationDeps {
  config: NetworkingConfig;
  /** Reconciliations of one cluster never overlap; requests during one are coalesced into one more. */
  scheduler: KeyedQueue;
  live: GatewayClusters;
  exposeAddress: string;
  log: Logger;
  /** Node certificates renewed before they expire: started once the service runs. */
  renewal?: CertificateRenewal;
}

/** Operation events change no gateway (only the cluster's operations): they start no reconciliation. */
const OPERATION_EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(operationEvents));

function setup(ctx: ServiceContext<NetworkingConfig>): NetworkingDeps {
  const { store, log, home, config } = ctx;
  // HAProxy processes here, or a container per gateway on the docker runtime (PGFLEET_RUNTIME).
  const gateways = createGateways({ home });
  const agent = config.PGFLEET_HA_AGENT;
  const scheduler = new KeyedQueue(
    (clusterId) => reconcileGateways({ store, gateways, log, host: config.PGFLEET_GATEWAY_HOST, agent }, clusterId),
    (clusterId, e) => {
      log.error({ clusterId, err: e instanceof Error ? e.message : String(e) }, 'gateway reconcile failed');
    },
  );
  return {
    config,
    store,
    home,
    scheduler,
    runtime: createNodeRuntime({ home }),
    nodeCertDays: config.PGFLEET_NODE_CERT_DAYS,
    live: new GatewayClusters(),
    exposeAddress: config.PGFLEET_EXPOSE_ADDRESS,
    log,
    reconcile: (clusterId) => scheduler.request(clusterId),
  };
}

/**
 * The networking service: keeps every cluster's gateways in step with the cluster's history, and
 * runs the TLS and exposure operations (the commands only check and ask for them).
 */
await runService({
  name: 'networking',
  config: NetworkingConfig,
  setup,
  commands: (deps) => ({
    ForceTls: (data, meta) => forceTls(deps, data, meta),
    RotateCertificates: (data, meta) => rotateCertificates(deps, data, meta),
    ExposeCluster: (data, meta) => exposeCluster(deps, data, meta),
    UnexposeCluster: (data, meta) => unexposeCluster(deps, data, meta),
  }),
  operations: (deps) => networkingOperations(deps),
  operationsDurable: (deps) => deps.config.PGFLEET_NETWORKING_OPERATIONS_DURABLE,
  projections: (deps) => [gatewayClustersProjection(deps.live)],
  // Cluster events (ClusterReady, FailoverStarted, LeaderChanged, NodeRejoined, ClusterDeleted, ...).
  // The ack waits for the reconciliation; a failed one rejects, so the event is redelivered (then
  // parked), never acked.
  consumers: (deps) => [
    {
      durable: deps.config.PGFLEET_NETWORKING_DURABLE,
      filterSubjects: ['pgfleet.events.cluster.>'],
      // Each event asks for a reconciliation of its cluster from its whole history (order does not
      // matter): handled at once, the events that arrive during one run coalesce into the next, so a
      // LeaderChanged waits for at most one run, not for one per event queued before it.
      concurrency: 16,
      handle: async (event) => {
        if (streamCategory(event.streamId) !== 'cluster' || OPERATION_EVENT_TYPES.has(event.type)) return;
        await deps.scheduler.request(event.streamId.slice('cluster-'.length));
      },
    },
  ],
  // After a restart: every cluster with gateways is checked again (a gateway killed meanwhile is
  // started). A failure is logged by the scheduler and retried on the cluster's next event.
  started: (deps) => {
    for (const clusterId of deps.live.list()) deps.scheduler.request(clusterId).catch(() => undefined);
    // Node certificates: checked now and periodically, renewed (certs-rotate) before they expire.
    deps.renewal = startCertificateRenewal({
      store: deps.store,
      home: deps.home,
      log: deps.log,
      renewBeforeMs: deps.config.PGFLEET_CERT_RENEW_BEFORE_DAYS * 86_400_000,
      intervalMs: deps.config.PGFLEET_CERT_CHECK_INTERVAL_S * 1000,
      clusters: () => deps.live.list(),
    });
  },
  stop: async (deps) => {
    await deps.renewal?.stop();
    await deps.scheduler.idle();
  },
});
