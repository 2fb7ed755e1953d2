import type { InitNodeInput } from '@pgfleet/postgres';
import type { NodeEndpoint, NodeInfo, NodeSetup } from '../port.js';

/** The superuser over the node's unix socket (trusted there). */
export const endpointOf = (info: NodeInfo, database = 'postgres'): NodeEndpoint => ({
  host: info.socketDir,
  port: info.port,
  user: 'postgres',
  database,
});

/** What `@pgfleet/postgres` writes for a node set up as `setup`. */
export function configOf(info: NodeInfo, setup: NodeSetup): InitNodeInput {
  // hostssl lines with ssl off would refuse every TCP client: a caller's mistake, not a node's state.
  if (setup.forceTls && !setup.tls) throw new Error(`node ${info.nodeId}: forcing TLS needs the node's TLS material`);
  return {
    major: info.major,
    dataDir: info.dataDir,
    port: info.port,
    plan: setup.plan,
    ...(setup.tls ? { tls: setup.tls } : {}),
    ...(setup.clusterName ? { clusterName: setup.clusterName } : {}),
    ...(setup.forceTls ? { hba: { forceTls: true } } : {}),
  };
}
