import type { EventStore } from '@pgfleet/eventstore';

/** What the networking commands need: the store (they decide, then ask for an operation; they touch no node). */
export interface CommandDeps {
  store: EventStore;
}
