import type { EventStore } from '@pgfleet/eventstore';
import type { NewClusterDeps } from '@pgfleet/kit';
import type { SecretStore } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';

/** What a restore to a time needs: the store, the nodes' runtime (and archive), NATS, the secrets. */
export interface PitrRestoreDeps extends NewClusterDeps {
  store: EventStore;
  runtime: NodeRuntime;
  /** The replication password the re-cloned followers stream with. */
  secrets: SecretStore;
  /** The platform home: nodes get their TLS material from under it (none without). */
  home?: string;
  /** How long unfencing keeps trying to reach the leader before leaving it to the next attempt (default 60 s). */
  unfenceRetryMs?: number;
  /** How long the re-cloned followers may take to stream (default 120 s). */
  streamingTimeoutMs?: number;
}
