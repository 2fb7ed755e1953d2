import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  busAuthFromEnv,
  connectBus,
  consumeEvents,
  serveCommands,
  type CommandHandlers,
  type EventConsumer,
  type EventHandler,
} from '@pgfleet/bus';
import { querySubject, type EventEnvelope, type ServiceName } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore, type Subscription } from '@pgfleet/eventstore';
import type { z } from 'zod';
import { type BaseConfig, ConfigError, loadConfig } from './config.js';
import { startHealthServer, type HealthServer } from './health.js';
import { createLogger, type Logger } from './logger.js';
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
}

/** A durable JetStream consumer of the service (replicas share it). */
export interface ConsumerDeclaration {
  /** Durable name (from the service's config, so a test can run an isolated replica). */
  durable: string;
  filterSubjects: string[];
  /** Resolve once the event is handled (then it is acknowledged); throw to have it redelivered. */
  handle: EventHandler;
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
  shutdown.register('store', () => store.close());
  const nc = await connectBus({ servers: natsUrl, name: `pgfleet-${service.name}`, ...busAuthFromEnv() });
  shutdown.register('nats', () => nc.drain());
  const ctx: ServiceContext<C> = { config, log, home: config.PGFLEET_HOME, store, nc, js: jetstream(nc), shutdown };
  const deps = await service.setup(ctx);

  const subscriptions: Subscription[] = [];
  for (const projection of service.projections?.(deps) ?? []) {
    const subscription = store.subscribe({
      subscriberId: `${service.name}-${projection.name}`,
      durable: false,
      handler: (event) => projection.apply(event),
      ...(projection.types ? { types: projection.types } : {}),
      onError: (error) => log.warn({ projection: projection.name, err: errorMessage(error) }, 'projection read failed; retrying'),
    });
    subscriptions.push(subscription);
  }
  shutdown.register('projections', () => Promise.all(subscriptions.map((s) => s.stop())));
  await Promise.all(subscriptions.map((s) => s.caughtUp()));

  if (service.stop) shutdown.register('work', () => service.stop?.(deps));
  const consumers: EventConsumer[] = [];
  shutdown.register('consumers', () => Promise.all(consumers.map((c) => c.stop())));
  for (const consumer of service.consumers?.(deps) ?? []) {
    consumers.push(
      await consumeEvents({
        js: ctx.js,
        durable: consumer.durable,
        filterSubjects: consumer.filterSubjects,
        handler: consumer.handle,
        logger: log,
      }),
    );
  }

  const handlers = service.commands?.(deps);
  const commandServer = handlers ? serveCommands(nc, service.name, handlers, { logger: log }) : undefined;
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

function required(value: string | undefined, variable: string): string {
  if (value === undefined) throw new ConfigError(`configuration error: ${variable} is required but not set.`, variable, 'required');
  return value;
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
