import type { Bus } from '@pgfleet/kit';
import type { EventStore } from '@pgfleet/eventstore';
import type { SecretStore } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';

/** What a major upgrade needs: the store, the nodes' runtime, NATS (the full backup), the secrets. */
export interface UpgradeDeps {
  store: EventStore;
  runtime: NodeRuntime;
  /** To ask the pitr service for a new full backup (none without). */
  nc?: Bus;
  /** The replication password the re-cloned followers stream with. */
  secrets: SecretStore;
  /** The platform home: nodes get their TLS material from under it (none without). */
  home?: string;
  /** How long the re-cloned followers may take to stream (default 300 s). */
  streamingTimeoutMs?: number;
}
