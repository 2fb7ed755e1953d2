import { existsSync } from 'node:fs';
import { foldClusterView, streamIds, type ClusterView } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { requestOperation, type Logger } from '@pgfleet/kit';
import { certInfo, nodeTlsFiles } from '@pgfleet/postgres';
import {
  decideRenewal,
  type ExpiringCertificate,
  type NodeCertificate,
  type RenewalPlan,
} from '../domain/certRenewal.js';
import { NETWORKING_ACTOR, recordGateways } from './recordGateways.js';

export interface RenewalDeps {
  store: EventStore;
  /** `PGFLEET_HOME`: where the node certificates are read. */
  home: string;
  log: Logger;
  /** A certificate ending within this many milliseconds is renewed. */
  renewBeforeMs: number;
  now?: () => Date;
}

/** Each provisioned node's certificate expiry, read from its file (a node without one yet is skipped). */
function nodeCertificates(home: string, clusterId: string, cluster: ClusterView): NodeCertificate[] {
  return cluster.nodes.flatMap((n) => {
    const { certFile } = nodeTlsFiles(home, clusterId, n.nodeId);
    if (!n.provisioned || !existsSync(certFile)) return [];
    return [{ nodeId: n.nodeId, notAfter: certInfo(certFile).notAfter.toISOString() }];
  });
}

/** CertificateExpiring on `gateway-{clusterId}` for each node (a failure already recorded records nothing). */
async function recordExpiring(deps: RenewalDeps, clusterId: string, expiring: readonly ExpiringCertificate[]) {
  for (const { nodeId, notAfter, reason } of expiring) {
    deps.log.warn({ clusterId, nodeId, notAfter, reason }, 'node certificate renewal failed');
    const command = { type: 'WarnCertificateExpiring' as const, clusterId, nodeId, notAfter, reason };
    const reply = await recordGateways(deps.store, clusterId, command);
    if (!reply.ok && reply.code === 'CONCURRENCY_CONFLICT') throw new Error(reply.message);
  }
}

/**
 * One check of one cluster: its node certificates that end within the renewal window get a
 * `certs-rotate` operation (the one `certs --rotate` asks for: same CA, a reload, no restart), run
 * by the service's operation executor and recorded as CertificatesRotated. A failed renewal is
 * recorded as CertificateExpiring per node and tried again; a refused request too (an operation
 * already running on the cluster is waited for instead). Returns what was decided.
 */
export async function checkCertificates(deps: RenewalDeps, clusterId: string): Promise<RenewalPlan> {
  const cluster = foldClusterView((await deps.store.readStream(streamIds.cluster(clusterId))).events);
  const plan = decideRenewal(
    cluster,
    nodeCertificates(deps.home, clusterId, cluster),
    deps.now?.() ?? new Date(),
    deps.renewBeforeMs,
  );
  await recordExpiring(deps, clusterId, plan.expiring);
  if (!plan.renew) return plan;
  const { operationId, nodes } = plan.renew;
  const reply = await requestOperation(
    deps.store,
    clusterId,
    { kind: 'certs-rotate', params: { nodes }, operationId },
    { actor: NETWORKING_ACTOR, correlationId: operationId },
  );
  if (reply.ok) {
    deps.log.info({ clusterId, operationId, nodes }, 'node certificates due for renewal: certs-rotate requested');
    return plan;
  }
  if (reply.code === 'OPERATION_IN_PROGRESS') return plan; // the next check asks again
  const certs = nodeCertificates(deps.home, clusterId, cluster).filter((c) => nodes.includes(c.nodeId));
  await recordExpiring(
    deps,
    clusterId,
    certs.map((c) => ({ ...c, reason: `renewal refused (${reply.code}): ${reply.message}` })),
  );
  return plan;
}

export interface CertificateRenewal {
  /** Check every cluster now (also what the timer does). */
  checkAll(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Check the certificates of `clusters()` at once and every `intervalMs`, one cluster after the
 * other, never two checks at a time. A failed check (store unreachable) is logged and tried at
 * the next tick.
 */
export function startCertificateRenewal(
  deps: RenewalDeps & { clusters: () => string[]; intervalMs: number },
): CertificateRenewal {
  let current: Promise<void> = Promise.resolve();
  let stopped = false;
  const checkAll = () => {
    current = current.then(async () => {
      for (const clusterId of deps.clusters()) {
        if (stopped) return;
        await checkCertificates(deps, clusterId).catch((e: unknown) => {
          deps.log.error({ clusterId, err: e instanceof Error ? e.message : String(e) }, 'certificate check failed');
        });
      }
    });
    return current;
  };
  const timer = setInterval(() => void checkAll(), deps.intervalMs);
  timer.unref();
  void checkAll();
  return {
    checkAll,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}
