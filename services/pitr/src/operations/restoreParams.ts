import { ClusterName, PitrTargetTime } from '@pgfleet/contracts';
import { z } from 'zod';

/**
 * The params of a `pitr-restore` operation (in its OperationRequested on the source cluster's
 * stream): the instant to restore to, and where — a new cluster `into.name` (the source keeps
 * running) or the cluster itself (`inPlace`).
 */
export const PitrRestoreParams = z.union([
  z.object({ targetTime: PitrTargetTime, into: z.object({ name: ClusterName }), inPlace: z.literal(false) }),
  z.object({ targetTime: PitrTargetTime, inPlace: z.literal(true) }),
]);
export type PitrRestoreParams = z.infer<typeof PitrRestoreParams>;

/**
 * The name of a new cluster when none is given: `{name}-restored-{target time, UTC, to the
 * second}`, e.g. `shop-restored-20261130t091500`, shortened so it stays a valid cluster name.
 */
export function defaultRestoredName(sourceName: string, targetTime: string): string {
  const stamp = new Date(targetTime).toISOString().slice(0, 19).replace(/[-:]/g, '').toLowerCase();
  const suffix = `-restored-${stamp}`;
  return `${sourceName.slice(0, 40 - suffix.length).replace(/-+$/, '')}${suffix}`;
}
