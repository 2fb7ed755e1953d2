/**
 * A restore `--into NEW` makes its cluster through provisioning (steps `create-target` and
 * `target-ready`): the logic is shared with the pitr service's restore to a time, in the kit.
 */
export { createTargetCluster, waitUntilReady, type Bus, type NewClusterDeps } from '@pgfleet/kit';
