import type { EventType } from './events/index.js';

export const EVENTS_STREAM = 'PGFLEET_EVENTS';
export const EVENTS_SUBJECT_ROOT = 'pgfleet.events';
export const COMMANDS_SUBJECT_ROOT = 'pgfleet.commands';
export const QUERIES_SUBJECT_ROOT = 'pgfleet.queries';

/** `pgfleet.queries.{service}.{Query}`: read-only requests answered from a service's live view. */
export function querySubject(service: string, query: string): string {
  return `${QUERIES_SUBJECT_ROOT}.${service}.${query}`;
}

/** The category of a stream id: `cluster-abc` -> `cluster`. */
export function streamCategory(streamId: string): string {
  const dash = streamId.indexOf('-');
  if (dash <= 0) throw new Error(`stream id "${streamId}" has no category`);
  return streamId.slice(0, dash);
}

/** `pgfleet.events.{category}.{streamId}.{Type}` */
export function eventSubject(streamId: string, type: EventType | string): string {
  return `${EVENTS_SUBJECT_ROOT}.${streamCategory(streamId)}.${streamId}.${type}`;
}

/** A filter over event subjects; omitted parts match anything. */
export function eventFilter(opts: { category?: string; streamId?: string; type?: string } = {}): string {
  const category = opts.category ?? (opts.streamId ? streamCategory(opts.streamId) : '*');
  if (!opts.streamId && !opts.type && !opts.category) return `${EVENTS_SUBJECT_ROOT}.>`;
  return `${EVENTS_SUBJECT_ROOT}.${category}.${opts.streamId ?? '*'}.${opts.type ?? '*'}`;
}

/** `pgfleet.commands.{service}.{Command}` */
export function commandSubject(service: string, command: string): string {
  return `${COMMANDS_SUBJECT_ROOT}.${service}.${command}`;
}

export const streamIds = {
  cluster: (clusterId: string) => `cluster-${clusterId}`,
  backups: (clusterId: string) => `backups-${clusterId}`,
  pitr: (clusterId: string) => `pitr-${clusterId}`,
  upgrade: (clusterId: string) => `upgrade-${clusterId}`,
  gateway: (clusterId: string) => `gateway-${clusterId}`,
  account: (accountId: string) => `account-${accountId}`,
  /** An account and its API token (the API's); `account-` is billing's. */
  tokens: (accountId: string) => `tokens-${accountId}`,
  names: (accountId: string) => `names-${accountId}`,
  disk: (clusterId: string) => `disk-${clusterId}`,
};
