import { z } from 'zod';
import { Id } from '../names.js';
import { PostgresVersion } from '../plans.js';

/** Events of a major upgrade, on the `cluster-{clusterId}` stream (the upgrade service records them). */
export const upgradeEvents = {
  /**
   * The cluster runs PostgreSQL `toVersion` from `at` (its leader upgraded with pg_upgrade and
   * started): the cluster view's `version` becomes `toVersion`, so later clones and restarts use it.
   */
  ClusterUpgraded: z.object({
    fromVersion: PostgresVersion,
    toVersion: PostgresVersion,
    at: z.iso.datetime({ offset: true }),
    /** The major-upgrade operation that did it. */
    operationId: Id,
  }),
} as const;
