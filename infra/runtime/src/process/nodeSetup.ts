import { archiveSettings, type InitNodeInput, type PgBackRestPaths } from '@pgfleet/postgres';
import type { NodeEndpoint, NodeInfo, NodeSetup } from '../port.js';
import { preparePitr } from './pgBackRest.js';

/** The superuser over the node's unix socket (trusted there). */
export const endpointOf = (info: NodeInfo, database = 'postgres'): NodeEndpoint => ({
  host: info.socketDir,
  port: info.port,
  user: 'postgres',
  database,
});

/**
 * What `@pgfleet/postgres` writes for a node set up as `setup`; a node archiving gets pgBackRest's
 * archive_command and restore_command for `pitr` (its directories made ready first).
 */
export function configOf(info: NodeInfo, setup: NodeSetup, pitr?: PgBackRestPaths): InitNodeInput {
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
    extra: {
      ...(setup.archive && pitr ? archiveOf(pitr, setup.archive.stanza, info.dataDir) : {}),
      ...setup.parameters,
    },
  };
}

function archiveOf(pitr: PgBackRestPaths, stanza: string, dataDir: string): Record<string, string> {
  preparePitr(pitr);
  return archiveSettings(pitr, stanza, dataDir);
}
