import type { z } from 'zod';
import { accountEvents } from './account.js';
import { accountTokenEvents } from './accountTokens.js';
import { backupEvents } from './backup.js';
import { clusterEvents } from './cluster.js';
import { diskEvents } from './disk.js';
import { nameEvents } from './names.js';
import { gatewayEvents } from './gateway.js';
import { operationEvents } from './operation.js';
import { pitrEvents } from './pitr.js';
import { pitrRestoreEvents } from './pitrRestore.js';
import { upgradeEvents } from './upgrade.js';

/** Current schema version of the types that changed since their first version (others are at 1). */
const SCHEMA_VERSIONS: Record<string, number> = { NodeProvisioned: 2 };

/**
 * Every event type of the system: its data schema, the stream category it lives in and the
 * current schema version. Adding a type here makes the compiler list every exhaustive switch.
 */
export const EVENTS = {
  ...withCategory('cluster', clusterEvents),
  ...withCategory('cluster', operationEvents),
  ...withCategory('cluster', upgradeEvents),
  ...withCategory('backups', backupEvents),
  ...withCategory('names', nameEvents),
  ...withCategory('gateway', gatewayEvents),
  ...withCategory('pitr', pitrEvents),
  ...withCategory('pitr', pitrRestoreEvents),
  ...withCategory('account', accountEvents),
  ...withCategory('tokens', accountTokenEvents),
  ...withCategory('disk', diskEvents),
} as const;

/**
 * Types recorded on streams of more than their own category: the disk `QuotaExceeded`
 * (`kind: 'disk'`) is on `disk-{clusterId}` while the backup quotas' are on `backups-{clusterId}`.
 */
const ALSO_IN: Partial<Record<string, readonly string[]>> = { QuotaExceeded: ['disk'] };

/** Every stream category an event type is recorded in: its own first. */
export function categoriesOf(type: EventType): readonly string[] {
  return [EVENTS[type].category, ...(ALSO_IN[type] ?? [])];
}

function withCategory<C extends string, M extends Record<string, z.ZodType>>(category: C, schemas: M) {
  const out = {} as { [K in keyof M]: { category: C; schemaVersion: number; schema: M[K] } };
  for (const key of Object.keys(schemas) as (keyof M & string)[]) {
    out[key] = { category, schemaVersion: SCHEMA_VERSIONS[key] ?? 1, schema: schemas[key] };
  }
  return out;
}

export type EventType = keyof typeof EVENTS;
export type EventData<T extends EventType> = z.infer<(typeof EVENTS)[T]['schema']>;
export const EVENT_TYPES = Object.keys(EVENTS) as EventType[];

/** The discriminated union of every domain event: `{ type, data }`. */
export type DomainEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];
export type EventOfType<T extends EventType> = Extract<DomainEvent, { type: T }>;

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENTS, type);
}

/**
 * Upcasters: how to read an old schema version of a type as the next one. A breaking change
 * bumps the type's version in SCHEMA_VERSIONS and adds a step here, so old events stay readable.
 */
export const UPCASTERS: Partial<Record<EventType, Record<number, (data: unknown) => unknown>>> = {
  /** v1 -> v2: the driver's host path `dataDir` leaves the event. */
  NodeProvisioned: { 1: (data) => withoutKey(data, 'dataDir') },
};

function withoutKey(data: unknown, key: string): unknown {
  if (data === null || typeof data !== 'object') return data;
  const { [key]: _dropped, ...rest } = data as Record<string, unknown>;
  return rest;
}

/** An event whose stored schema version cannot be read as the current one (no upcaster, or newer than this code). */
export class UpcastError extends Error {
  readonly code = 'UPCAST_FAILED';
  constructor(
    readonly type: string,
    readonly schemaVersion: number,
    message: string,
  ) {
    super(message);
    this.name = 'UpcastError';
  }
}

/** Read `data` stored at `schemaVersion` as the current version of `type`; throws UpcastError when it cannot. */
export function upcast(type: EventType, schemaVersion: number, data: unknown): unknown {
  const target = EVENTS[type].schemaVersion;
  if (schemaVersion > target) {
    throw new UpcastError(type, schemaVersion, `${type} v${schemaVersion} is newer than this code reads (v${target})`);
  }
  let current = data;
  for (let v = schemaVersion; v < target; v++) {
    const step = UPCASTERS[type]?.[v];
    if (!step) throw new UpcastError(type, schemaVersion, `no upcaster for ${type} v${v}`);
    current = step(current);
  }
  return current;
}

export {
  clusterEvents,
  backupEvents,
  nameEvents,
  gatewayEvents,
  operationEvents,
  pitrEvents,
  pitrRestoreEvents,
  upgradeEvents,
  accountEvents,
  diskEvents,
};
export * from './cluster.js';
export * from './disk.js';
export * from './backup.js';
export * from './gateway.js';
export * from './operation.js';
export * from './account.js';
export * from './accountTokens.js';
export * from './pitr.js';
export * from './pitrRestore.js';
export * from './upgrade.js';
