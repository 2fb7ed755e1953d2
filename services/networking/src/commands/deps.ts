import type { EventStore } from '@pgfleet/eventstore';
import type { NodeRuntime } from '@pgfleet/runtime';

/** What the networking commands need: the store, the runtime (the only way to a node), the home of the TLS material. */
export interface CommandDeps {
  store: EventStore;
  runtime: NodeRuntime;
  /** `PGFLEET_HOME`. */
  home: string;
}
