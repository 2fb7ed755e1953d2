import type { EventEnvelope } from '@pgfleet/contracts';
import { type ApiClient, CliError } from './client.js';
import { requestTime } from './followEvents.js';
import { type Accepted, followCluster, runLongAction, type Settle } from './operationWait.js';

/** The status a command waits for, and the event that says the cluster reached it. */
type Until = 'ready' | 'deleted';
const REACHED: Record<Until, string> = { ready: 'ClusterReady', deleted: 'ClusterDeleted' };
const TIMEOUT_MS = 600_000;

const provisioningFailed = (name: string, reason: string) =>
  new CliError(`cluster ${name} failed to provision: ${reason}`, 'PROVISIONING_FAILED');

/** What one event of the cluster stream says: the status is reached, provisioning failed, or neither. */
function statusSaid(e: EventEnvelope, until: Until): 'reached' | { failed: string } | undefined {
  if (e.type === REACHED[until]) return 'reached';
  if (until === 'ready' && e.type === 'ClusterProvisioningFailed') return { failed: e.data.reason };
  return undefined;
}

/**
 * Wait, event by event, until a cluster is `until` (after `cluster create`, or a service that
 * answered retry/delete without an operation); a failed provisioning is an error.
 */
export async function waitForCluster(
  api: ApiClient,
  w: { name: string; clusterId: string; since: Date; quiet: boolean },
  until: Until,
): Promise<void> {
  const goesOn = `cluster ${w.name} goes on; see it with "pgfleet cluster show ${w.name}"`;
  const waitingFor = `cluster ${w.name} is still not ${until}`;
  await followCluster(api, { ...w, timeoutMs: TIMEOUT_MS, goesOn, waitingFor }, (e) => {
    const said = statusSaid(e, until);
    if (said !== undefined && said !== 'reached') throw provisioningFailed(w.name, said.failed);
    return said === 'reached';
  });
}

/** After a retry or delete operation: until the cluster's status says so too. */
function statusSettle(name: string, until: Until): Settle & { failure(): string | undefined } {
  let said: ReturnType<typeof statusSaid>;
  return {
    observe: (e) => {
      said = statusSaid(e, until) ?? said;
    },
    settled: () => said !== undefined,
    failure: () => (said !== undefined && said !== 'reached' ? said.failed : undefined),
    timeoutMs: TIMEOUT_MS,
    onTimeout: () => {
      throw new CliError(`cluster ${name} is not ${until} ${TIMEOUT_MS / 1000} s after the operation`, 'TIMEOUT');
    },
  };
}

/**
 * `cluster retry` and `cluster delete`: send the action, follow its operation, then wait for the
 * status (`ready`, `deleted`); with a service that answered without an operation, the status only.
 */
export async function clusterAction(
  api: ApiClient,
  name: string,
  o: { wait: boolean; json?: boolean },
  request: { method: string; path: string },
  until: Until,
): Promise<Accepted> {
  const since = requestTime();
  const settle = statusSettle(name, until);
  const action = { ...request, name, wait: o.wait, json: Boolean(o.json) };
  const { accepted, end } = await runLongAction(api, action, { settle: () => settle });
  const failure = settle.failure();
  if (failure !== undefined) throw provisioningFailed(name, failure);
  if (o.wait && !end && accepted.clusterId) {
    await waitForCluster(api, { name, clusterId: accepted.clusterId, since, quiet: Boolean(o.json) }, until);
  }
  return accepted;
}
