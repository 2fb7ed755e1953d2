import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  busAuthFromEnv,
  connectBus,
  consumeEvents,
  isPermittedDurable,
  serveCommands,
  type CommandHandlers,
  type EventConsumer,
  type EventHandler,
} from '@pgfleet/bus';
import {
  type EventEnvelope,
  foldClusterView,
  runningOperation,
  type OperationKind,
  querySubject,
  type ServiceName,
  streamCategory,
} from '@pgfleet/contracts';
import { createAdvisoryLocks, createPostgresEventStore, type EventStore, type Subscription } from '@pgfleet/eventstore';
import type { z } from 'zod';
import { type BaseConfig, ConfigError, loadConfig } from './config.js';
import { startHealthServer, type HealthServer } from './health.js';
import { createLogger, type Logger } from './logger.js';
import { KeyedQueue } from './keyedQueue.js';
import { executeOperation, type OperationExecutors, recordOperation } from './operations.js';
import { accountGuard } from './accountGuard.js';
import { gracefulShutdown, type Shutdown } from './shutdown.js';

/** What every service gets from `runService` before it declares its handlers. */
export interface ServiceContext<C extends BaseConfig = BaseConfig> {
  config: C;
  log: Logger;
  /** `PGFLEET_HOME`, absolute. */
  home: string;
  store: EventStore;
  nc: NatsConnection;
  js: JetStreamClient;
  shutdown: Shutdown;
  /**
   * Run the cluster's running operation now if this service owns its kind, without waiting for
   * its OperationRequested to come back through NATS (a failover cannot wait). Runs of one
   * cluster never overlap; an operation already ended is skipped.
   */
  runOperationNow(clusterId: string): void;
}

/** A durable JetStream consumer of the service (replicas share it). */
export interface ConsumerDeclaration {
  /** Durable name (from the service's config, so a test can run an isolated replica). */
  durable: string;
  filterSubjects: string[];
  /** Resolve once the event is handled (then it is acknowledged); throw to have it redelivered. */
  handle: EventHandler;
  /** Events handled at once (default 1, in order). */
  concurrency?: number;
}

/**
 * An in-memory projection fed by `store.subscribe` from the beginning of the global order at
 * every start (it keeps no checkpoint: it is cheap to rebuild), then live.
 */
export interface ProjectionDeclaration {
  name: string;
  /** Only these event types reach `apply` (others still advance it). */
  types?: readonly string[];
  apply(event: EventEnvelope): void | Promise<void>;
}

/** A read-only request answered from the service's live view: `pgfleet.queries.{service}.{name}`. */
export type QueryHandler = (request: unknown) => Promise<unknown>;

/** What a service declares: the rest (config, store, NATS, health, shutdown) is `runService`'s. */
export interface ServiceDeclaration<S extends ServiceName, C extends BaseConfig, D> {
  name: S;
  /** The service's config schema: `BaseConfig.extend({...})`. */
  config: z.ZodType<C> & z.ZodObject;
  /** Build what the handlers need (runtime, secrets, queues) once the store and NATS are open. */
  setup(ctx: ServiceContext<C>): D | Promise<D>;
  commands?(deps: D): CommandHandlers<S>;
  queries?(deps: D): Record<string, QueryHandler>;
  projections?(deps: D): ProjectionDeclaration[];
  consumers?(deps: D): ConsumerDeclaration[];
  /**
   * The operations this service runs, by kind (each kind has one owner, named in contracts' OPERATION_OWNERS).
   * runService consumes OperationRequested, runs each operation to its end (one per cluster at a
   * time), and at start resumes every operation of these kinds still running.
   */
  operations?(deps: D): OperationExecutors;
  /** Durable consumer of OperationRequested (default `{name}-operations`). */
  operationsDurable?(deps: D): string;
  /** Runs once projections have caught up with the store (resume unfinished work here). */
  started?(deps: D): void | Promise<void>;
  /** Closed first at shutdown (drain queues, stop schedulers), before consumers, NATS and the store. */
  stop?(deps: D): void | Promise<void>;
}

export interface RunningService<C extends BaseConfig, D> {
  ctx: ServiceContext<C>;
  deps: D;
  health?: HealthServer;
}

const encoder = new TextEncoder();

/** The one way a service starts: configuration, store, NATS, projections, handlers, health and shutdown. */
export async function runService<S extends ServiceName, C extends BaseConfig, D>(
  service: ServiceDeclaration<S, C, D>,
  env: Record<string, string | undefined> = process.env,
): Promise<RunningService<C, D>> {
  const config = loadConfig(service.config, env) as C;
  const log = createLogger(service.name, config.PGFLEET_LOG_LEVEL);
  const shutdown = gracefulShutdown({ logger: log });
  const storeUrl = required(config.PGFLEET_EVENTSTORE_URL, 'PGFLEET_EVENTSTORE_URL');
  const natsUrl = required(config.PGFLEET_NATS_URL, 'PGFLEET_NATS_URL');

  const store = createPostgresEventStore({ connectionString: storeUrl });
  const locks = createAdvisoryLocks(storeUrl);
  shutdown.register('store', () => store.close());
  const busAuth = busAuthFromEnv(env);
  const nc = await connectBus({ servers: natsUrl, name: `pgfleet-${service.name}`, ...busAuth });
  shutdown.register('nats', () => nc.drain());
  let runNow: (clusterId: string) => void = () => undefined;
  const ctx: ServiceContext<C> = {
    ...{ config, log, home: config.PGFLEET_HOME, store, nc, js: jetstream(nc), shutdown },
    runOperationNow: (clusterId) => runNow(clusterId),
  };
  const deps = await service.setup(ctx);

  const subscriptions: Subscription[] = [];
  const runningOperations = new Map<string, { operationId: string; kind: OperationKind }>();
  const projections = service.projections?.(deps) ?? [];
  if (service.operations) {
    projections.push({
      name: 'running-operations',
      types: ['OperationRequested', 'OperationSucceeded', 'OperationFailed'],
      apply: (event) => {
        const clusterId = event.streamId.slice('cluster-'.length);
        if (event.type === 'OperationRequested') {
          runningOperations.set(clusterId, { operationId: event.data.operationId, kind: event.data.kind });
        } else if (
          (event.type === 'OperationSucceeded' || event.type === 'OperationFailed') &&
          runningOperations.get(clusterId)?.operationId === event.data.operationId
        ) {
          runningOperations.delete(clusterId);
        }
      },
    });
  }
  for (const projection of projections) {
    const subscription = store.subscribe({
      subscriberId: `${service.name}-${projection.name}`,
      durable: false,
      handler: (event) => projection.apply(event),
      ...(projection.types ? { types: projection.types } : {}),
      onError: (error) =>
        log.warn({ projection: projection.name, err: errorMessage(error) }, 'projection read failed; retrying'),
    });
    subscriptions.push(subscription);
  }
  shutdown.register('projections', () => Promise.all(subscriptions.map((s) => s.stop())));
  await Promise.all(subscriptions.map((s) => s.caughtUp()));

  if (service.stop) shutdown.register('work', () => service.stop?.(deps));
  const consumers: EventConsumer[] = [];
  shutdown.register('consumers', () => Promise.all(consumers.map((c) => c.stop())));
  // An event a consumer gives up on is parked on its cluster's stream (HandlingFailed), so
  // `cluster show` reports it, and the other clusters' events flow on.
  const park = (durable: string) => async (event: EventEnvelope, error: unknown) => {
    const clusterId = clusterOf(event);
    if (!clusterId) return;
    await recordOperation(store, clusterId, {
      type: 'RecordHandlingFailed',
      consumer: durable,
      eventId: event.id,
      eventType: event.type,
      error: errorMessage(error),
    });
  };
  // On the platform's closed NATS server a durable outside the service's permission table is refused.
  const checkPermitted = (durable: string) => {
    if (busAuth.user === service.name && !isPermittedDurable(service.name, durable))
      log.error({ durable }, 'durable consumer missing from SERVICE_BUS_USE (infra/bus): NATS will refuse it');
  };
  for (const consumer of service.consumers?.(deps) ?? []) {
    checkPermitted(consumer.durable);
    consumers.push(
      await consumeEvents({
        js: ctx.js,
        durable: consumer.durable,
        filterSubjects: consumer.filterSubjects,
        handler: consumer.handle,
        concurrency: consumer.concurrency ?? 1,
        onGiveUp: park(consumer.durable),
        logger: log,
      }),
    );
  }
  const executors = service.operations?.(deps) ?? {};
  const ownKinds = new Set(Object.keys(executors));
  if (ownKinds.size > 0) {
    const operationRuns = new KeyedQueue(
      async (clusterId) => {
        const running = await runningOperationOf(store, clusterId);
        const executor = running && executors[running.kind];
        if (!running || !executor) return;
        const deps = { store, log, stopping: shutdown.isStopping, tryLock: locks.tryLock };
        await executeOperation(deps, clusterId, running.operationId, executor);
      },
      (clusterId, error) =>
        log.error({ clusterId, err: errorMessage(error) }, 'operation run failed; it will be resumed'),
    );
    runNow = (clusterId) => void operationRuns.request(clusterId).catch(() => undefined);
    // Not waited for at shutdown: an operation in flight is left as it is and resumed at the next
    // start (every step is idempotent), so stopping the platform stays fast whatever runs.
    const durable = service.operationsDurable?.(deps) ?? `${service.name}-operations`;
    checkPermitted(durable);
    consumers.push(
      await consumeEvents({
        js: ctx.js,
        durable,
        filterSubjects: ['pgfleet.events.cluster.*.OperationRequested'],
        concurrency: 8,
        handler: async (event) => {
          if (event.type !== 'OperationRequested' || !ownKinds.has(event.data.kind)) return;
          await operationRuns.request(event.streamId.slice('cluster-'.length));
        },
        onGiveUp: park(durable),
        logger: log,
      }),
    );
    for (const [clusterId, op] of runningOperations) {
      if (ownKinds.has(op.kind)) operationRuns.request(clusterId).catch(() => undefined);
    }
  }

  const handlers = service.commands?.(deps);
  const commandServer = handlers
    ? serveCommands(nc, service.name, handlers, { logger: log, authorize: accountGuard(store) })
    : undefined;
  const querySubs = Object.entries(service.queries?.(deps) ?? {}).map(([name, answer]) =>
    nc.subscribe(querySubject(service.name, name), {
      queue: service.name,
      callback: (err, msg) => {
        if (err) return;
        void (async () => {
          let body: unknown;
          try {
            body = await answer(msg.data.length > 0 ? msg.json() : {});
          } catch (error) {
            body = { error: errorMessage(error) };
          }
          msg.respond(encoder.encode(JSON.stringify(body ?? null)));
        })();
      },
    }),
  );
  shutdown.register('commands', async () => {
    await commandServer?.stop();
    for (const sub of querySubs) sub.unsubscribe();
  });

  let health: HealthServer | undefined;
  if (config.PGFLEET_HEALTH_PORT !== undefined) {
    health = await startHealthServer({ service: service.name, port: config.PGFLEET_HEALTH_PORT });
    health.addCheck('nats', () => !nc.isClosed());
    shutdown.register('health', () => health?.close());
  }

  await service.started?.(deps);
  log.info(`${service.name} service started`);
  return { ctx, deps, ...(health ? { health } : {}) };
}

/** The cluster an event is about: the id part of `cluster-`, `backups-`, `gateway-`... streams. */
function clusterOf(event: EventEnvelope): string | undefined {
  const category = streamCategory(event.streamId);
  if (category === 'names' || category === 'account') return undefined;
  return event.streamId.slice(category.length + 1);
}

/** The cluster's running operation, read from its stream (the projection may not have seen it yet). */
async function runningOperationOf(
  store: EventStore,
  clusterId: string,
): Promise<{ operationId: string; kind: OperationKind } | undefined> {
  const view = foldClusterView((await store.readStream(`cluster-${clusterId}`)).events);
  const op = runningOperation(view.ops);
  return op ? { operationId: op.operationId, kind: op.kind } : undefined;
}

function required(value: string | undefined, variable: string): string {
  if (value === undefined)
    throw new ConfigError(`configuration error: ${variable} is required but not set.`, variable, 'required');
  return value;
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
