import type { EventStore } from '@pgfleet/eventstore';
import type { NodeRuntime } from '@pgfleet/runtime';

/** What the networking operations need: the store, the runtime (the only way to a node), TLS material, gateways. */
export interface OperationDeps {
  store: EventStore;
  runtime: NodeRuntime;
  /** `PGFLEET_HOME`: where the cluster CA and the node certificates live. */
  home: string;
  /** Validity of the node certificates issued (rotation, renewal, expose), in days; default 365. */
  nodeCertDays?: number;
  /** Bring the cluster's gateways in line with its history (serialized with the service's other reconciliations). */
  reconcile(clusterId: string): Promise<void>;
}
