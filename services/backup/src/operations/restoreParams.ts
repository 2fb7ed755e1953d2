import { ClusterName, Id } from '@pgfleet/contracts';
import { z } from 'zod';

/**
 * The params of a `restore` operation (in its OperationRequested), by where it restores:
 * - in place: `{ backupId }`, on the cluster's own stream;
 * - into an existing cluster: `{ backupId, sourceClusterId }`, on the stream of the cluster restored
 *   into (so nothing else runs on it meanwhile);
 * - into a new cluster (`--into NEW`): `{ backupId, into: { name } }`, on the source cluster's
 *   stream (the new one does not exist yet: the operation creates it).
 */
export const RestoreParams = z.object({
  backupId: Id,
  sourceClusterId: Id.optional(),
  into: z.object({ name: ClusterName }).optional(),
});
export type RestoreParams = z.infer<typeof RestoreParams>;
