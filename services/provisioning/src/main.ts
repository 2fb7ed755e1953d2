import { jetstream } from '@nats-io/jetstream';
import { querySubject, streamCategory } from '@pgfleet/contracts';
import { busAuthFromEnv, connectBus, consumeEvents, serveCommands } from '@pgfleet/bus';
import { createPostgresEventStore } from '@pgfleet/eventstore';
import { createLogger, gracefulShutdown, KeyedQueue, loadConfig } from '@pgfleet/kit';
import { openSecretStore } from '@pgfleet/postgres';
import { createProcessRuntime } from '@pgfleet/runtime';
import { resolve } from 'node:path';
import { createCluster, deleteCluster, retryCluster } from './commands.js';
import { ProvisioningConfig } from './config.js';
import { clusterStatus } from './status.js';
import { reconcileCluster } from './workers/reconcile.js';
import { switchoverCluster } from './workers/switchover.js';
import { unfinishedClusters } from './workers/unfinished.js';

/** The provisioning service: accepts cluster commands, reacts to cluster events, drives nodes. */
const config = loadConfig(ProvisioningConfig);
const log = createLogger('provisioning', config.PGFLEET_LOG_LEVEL);
const home = resolve(config.PGFLEET_HOME);
const store = createPostgresEventStore({ connectionString: config.PGFLEET_EVENTSTORE_URL });
const secrets = openSecretStore(home);
const runtime = createProcessRuntime({ home });
const nc = await connectBus({ servers: config.PGFLEET_NATS_URL, name: 'provisioning', ...busAuthFromEnv() });

// Reconciliations of one cluster never overlap; requests during one are coalesced into one more.
const scheduler = new KeyedQueue(
  async (clusterId) => { await reconcileCluster({ store, runtime, secrets, log, home }, clusterId); },
  (clusterId, e) => log.error({ clusterId, err: e instanceof Error ? e.message : String(e) }, 'reconcile failed'),
);

const commands = serveCommands(nc, 'provisioning', {
  // (replicas share the queue group pgfleet-provisioning)
  CreateCluster: (data, meta) => createCluster({ store, secrets }, data, meta),
  DeleteCluster: (data, meta) => deleteCluster({ store, secrets }, data, meta),
  RetryCluster: (data, meta) => retryCluster({ store, secrets }, data, meta),
  SwitchoverCluster: (data, meta) => switchoverCluster({ store, runtime, secrets, log, home }, data, meta),
});

const status = nc.subscribe(querySubject('provisioning', 'ClusterStatus'), {
  queue: 'provisioning',
  callback: (err, msg) => {
    if (err) return;
    void (async () => {
      try {
        const { clusterId } = msg.json() as { clusterId: string };
        msg.respond(JSON.stringify({ nodes: await clusterStatus({ store, runtime }, clusterId) }));
      } catch (e) {
        msg.respond(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
      }
    })();
  },
});

// React to cluster events (through NATS, from the relay); the ack waits for the reconciliation.
const consumer = await consumeEvents({
  js: jetstream(nc), durable: config.PGFLEET_PROVISIONING_DURABLE, logger: log, filterSubjects: ['pgfleet.events.cluster.>'],
  handler: async (event) => {
    if (streamCategory(event.streamId) !== 'cluster') return;
    await scheduler.request(event.streamId.slice('cluster-'.length));
  },
});

// After a crash: whatever was started and not finished is picked up again.
for (const clusterId of await unfinishedClusters(store)) void scheduler.request(clusterId);
log.info('provisioning service started');

const shutdown = gracefulShutdown({ logger: log });
shutdown.register('store', () => store.close());
shutdown.register('nats', () => nc.drain());
shutdown.register('reconciliations', () => scheduler.idle());
shutdown.register('consumer', () => consumer.stop());
shutdown.register('commands', async () => { await commands.stop(); status.unsubscribe(); });
