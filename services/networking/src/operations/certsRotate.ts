import { runtimeNodeId } from '@pgfleet/contracts';
import type { OperationRun } from '@pgfleet/kit';
import { z } from 'zod';
import { exposedCertNames } from '../domain/tls.js';
import { earliest, issueNodeCertificate } from '../workers/reissueNodeCerts.js';
import type { OperationDeps } from './deps.js';
import { loadTarget, nodeStep, parseParams, recordOutcome, requireRunning } from './steps.js';

/** `OperationRequested {kind: 'certs-rotate', params}`: the nodes that get new certificates. */
export const CertsRotateParams = z.object({ nodes: z.array(z.string().min(1)).min(1) });
export type CertsRotateParams = z.infer<typeof CertsRotateParams>;

/**
 * certs-rotate: per node, `issue:<nodeId>` (a new certificate from the same cluster CA, same
 * names plus the outside address while exposed, replaced atomically in place; detail
 * `{ notAfter }`) then `reload:<nodeId>` (the node loads it: no restart, no session cut); then
 * `record` (CertificatesRotated). Result: `{ nodes, notAfter }` (the earliest expiry).
 */
export async function runCertsRotate(deps: OperationDeps, run: OperationRun): Promise<Record<string, unknown>> {
  const { nodes } = parseParams(CertsRotateParams, run);
  const target = await loadTarget(deps.store, run);
  const extraIps = exposedCertNames(target.gateways).ipAddresses;
  const issue = (nodeId: string) => `issue:${nodeId}`;
  const reload = (nodeId: string) => `reload:${nodeId}`;
  await requireRunning(
    deps.runtime,
    run,
    nodes.map((nodeId) => ({ nodeId, step: run.done(issue(nodeId)) ? reload(nodeId) : issue(nodeId) })),
  );
  const expiries: string[] = [];
  for (const nodeId of nodes) {
    const issued = await nodeStep(run, issue(nodeId), async () => ({
      notAfter: await issueNodeCertificate(deps.home, run.clusterId, nodeId, extraIps, deps.nodeCertDays),
    }));
    expiries.push(String(issued?.notAfter ?? ''));
    await nodeStep(run, reload(nodeId), async () => {
      await deps.runtime.reload(runtimeNodeId(run.clusterId, nodeId));
      return undefined;
    });
  }
  const notAfter = earliest(expiries.filter((t) => t !== ''));
  await run.step('record', async () => {
    await recordOutcome(deps.store, run, target, { type: 'RotateCertificates', nodes, notAfter });
    return undefined;
  });
  return { nodes, notAfter };
}
