import { jetstream } from '@nats-io/jetstream';
import { streamCategory } from '@pgfleet/contracts';
import { busAuthFromEnv, connectBus, consumeEvents, serveCommands } from '@pgfleet/bus';
import { createPostgresEventStore } from '@pgfleet/eventstore';
import { createHaproxyGateways } from '@pgfleet/gateway';
import { createLogger, gracefulShutdown, KeyedQueue, loadConfig } from '@pgfleet/kit';
import { resolve } from 'node:path';
import { exposeCluster, unexposeCluster } from './commands/expose.js';
import { forceTls } from './commands/forceTls.js';
import { rotateCertificates } from './commands/rotateCertificates.js';
import { NetworkingConfig } from './config.js';
import { clustersWithGateways } from './workers/gatewayClusters.js';
import { reconcileGateways } from './workers/reconcileGateways.js';

/** The networking service: keeps every cluster's gateways in step with the cluster's history. */
const config = loadConfig(NetworkingConfig);
const log = createLogger('networking', config.PGFLEET_LOG_LEVEL);
const home = resolve(config.PGFLEET_HOME);
const store = createPostgresEventStore({ connectionString: config.PGFLEET_EVENTSTORE_URL });
const gateways = createHaproxyGateways({ home });
const nc = await connectBus({ servers: config.PGFLEET_NATS_URL, name: 'networking', ...busAuthFromEnv() });

// Reconciliations of one cluster never overlap; requests during one are coalesced into one more.
const scheduler = new KeyedQueue(
  async (clusterId) => { await reconcileGateways({ store, gateways, log, host: config.PGFLEET_GATEWAY_HOST }, clusterId); },
  (clusterId, e) => log.error({ clusterId, err: e instanceof Error ? e.message : String(e) }, 'gateway reconcile failed'),
);

const exposeDeps = { store, home, exposeAddress: config.PGFLEET_EXPOSE_ADDRESS, reconcile: (clusterId: string) => scheduler.request(clusterId) };
const commands = serveCommands(nc, 'networking', {
  ForceTls: (data, meta) => forceTls({ store }, data, meta),
  RotateCertificates: (data, meta) => rotateCertificates({ store, home }, data, meta),
  ExposeCluster: (data, meta) => exposeCluster(exposeDeps, data, meta),
  UnexposeCluster: (data, meta) => unexposeCluster(exposeDeps, data, meta),
});

// Cluster events (ClusterReady, LeaderChanged, ClusterDeleted, ...) through NATS; the ack waits for the reconciliation.
const consumer = await consumeEvents({
  js: jetstream(nc), durable: config.PGFLEET_NETWORKING_DURABLE, logger: log, filterSubjects: ['pgfleet.events.cluster.>'],
  handler: async (event) => {
    if (streamCategory(event.streamId) !== 'cluster') return;
    await scheduler.request(event.streamId.slice('cluster-'.length));
  },
});

// After a restart: every cluster with gateways is checked again (a gateway killed meanwhile is started).
for (const clusterId of await clustersWithGateways(store)) void scheduler.request(clusterId);
log.info('networking service started');

const shutdown = gracefulShutdown({ logger: log });
shutdown.register('store', () => store.close());
shutdown.register('nats', () => nc.drain());
shutdown.register('reconciliations', () => scheduler.idle());
shutdown.register('consumer', () => consumer.stop());
shutdown.register('commands', () => commands.stop());
