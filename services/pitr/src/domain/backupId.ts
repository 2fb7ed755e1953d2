import { createHash } from 'node:crypto';

/**
 * The id of the full backup a key asks for (a client's `commandId`, a weekly slot): the same key
 * twice asks for one backup and the decider's "already requested" path answers it. Fits the
 * contracts' Id rule (`p-` + 40 hex digits).
 */
export function pitrBackupIdFor(clusterId: string, key: string): string {
  return `p-${createHash('sha256').update(`${clusterId}\n${key}`).digest('hex').slice(0, 40)}`;
}
