export * from './port.js';
export { prepareEvents, SYSTEM_ACTOR, type PreparedEvent } from './prepareEvents.js';
export { upcastOnRead } from './upcastOnRead.js';
export {
  runSubscription,
  DEFAULT_TIMING,
  type SubscriptionSource,
  type SourcePage,
  type SubscriptionTiming,
} from './subscription/runSubscription.js';
export {
  createPostgresEventStore,
  type PostgresEventStore,
  type PostgresEventStoreOptions,
} from './postgres/postgresEventStore.js';
export type { PostgresAppendOptions } from './postgres/appendToStream.js';
export { createAdvisoryLocks, type AdvisoryLocks, type ReleaseLock } from './postgres/advisoryLocks.js';
export { DEFAULT_SCHEMA as DEFAULT_POSTGRES_EVENTSTORE_SCHEMA } from './postgres/schema.js';
export { createEsdbEventStore, type EsdbEventStoreOptions } from './esdb/esdbEventStore.js';
