import { createHash } from 'node:crypto';

/**
 * The id of the backup a client's command asks for: derived from its `commandId` (the API's
 * Idempotency-Key) and the cluster, so the same command sent twice asks for the same backup and
 * the decider's "already requested" path answers it; another key, or another cluster, gets
 * another backup. Fits the contracts' Id rule (`b-` + 40 hex digits).
 */
export function backupIdFor(clusterId: string, commandId: string): string {
  return `b-${createHash('sha256').update(`${clusterId}\n${commandId}`).digest('hex').slice(0, 40)}`;
}
