import { z } from 'zod';
import { AccountId, ClusterName, Id } from '../names.js';

/**
 * Events of the `names-{accountId}` stream: cluster names are unique per account, and the
 * reservation is an append with an expected version, so two concurrent creates of one name
 * cannot both win.
 */
export const nameEvents = {
  ClusterNameReserved: z.object({ accountId: AccountId, name: ClusterName, clusterId: Id }),
  ClusterNameReleased: z.object({ accountId: AccountId, name: ClusterName, clusterId: Id }),
} as const;
