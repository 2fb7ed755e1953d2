import type { EventStore } from '@pgfleet/eventstore';
import type { Logger } from '@pgfleet/kit';
import type { NodeRuntime } from '@pgfleet/runtime';

/** What the pitr workers need: the event store, the nodes' runtime (and its WAL archive), a logger, a clock. */
export interface PitrDeps {
  store: EventStore;
  /** The only way to reach a node (SQL) and the archive (pgBackRest): by runtime node id and stanza. */
  runtime: NodeRuntime;
  log: Logger;
  /** Injectable for tests (retention of a deleted cluster's archive, weekly slots). */
  clock: () => Date;
}
