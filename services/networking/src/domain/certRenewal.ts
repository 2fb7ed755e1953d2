import type { ClusterView } from '@pgfleet/contracts';

/** A node's certificate as found on disk: valid until `notAfter` (ISO time). */
export interface NodeCertificate {
  nodeId: string;
  notAfter: string;
}

/** A node whose renewal failed: what CertificateExpiring records. */
export interface ExpiringCertificate {
  nodeId: string;
  notAfter: string;
  reason: string;
}

/**
 * What a certificate check does for one cluster: record the failure of the last renewal (each
 * failed attempt once: CertificateExpiring per node), then ask for a new attempt, unless one runs.
 */
export interface RenewalPlan {
  expiring: ExpiringCertificate[];
  /** A `certs-rotate` operation to ask for, with this id, on these nodes. */
  renew?: { operationId: string; nodes: string[] };
  /** The renewal that runs now: its executor ends it, the next check reads how. */
  running?: string;
}

const NOTHING: RenewalPlan = { expiring: [] };

/**
 * Renewals of the same certificates share a prefix derived from their earliest expiry, then count
 * their attempts: every check until they are renewed reads the last attempt back (requested once,
 * its end read from the cluster's operations); the renewed certificates, ending later, start anew.
 */
const renewalPrefix = (due: readonly NodeCertificate[]) =>
  `op-cert-renewal-${Math.floor(Math.min(...due.map((c) => Date.parse(c.notAfter))) / 1000)}-`;

/**
 * What a certificate check does for a cluster, given its view, its node certificates and `now`. Pure.
 * A certificate is due when it ends within `renewBeforeMs`. A renewal is an ordinary
 * `certs-rotate` operation (new certificates from the same CA, loaded by a reload: no restart).
 * A cluster that is not ready is left alone (renewed once it is).
 */
export function decideRenewal(
  cluster: ClusterView,
  certs: readonly NodeCertificate[],
  now: Date,
  renewBeforeMs: number,
): RenewalPlan {
  if (cluster.status !== 'ready') return NOTHING;
  const due = certs.filter((c) => Date.parse(c.notAfter) - now.getTime() <= renewBeforeMs);
  if (due.length === 0) return NOTHING;
  const prefix = renewalPrefix(due);
  const attempts = cluster.ops.operations.filter((o) => o.operationId.startsWith(prefix));
  const last = attempts.at(-1);
  if (last?.status === 'running') return { expiring: [], running: last.operationId };
  const renew = { operationId: `${prefix}${attempts.length + 1}`, nodes: due.map((c) => c.nodeId) };
  if (!last) return { expiring: [], renew };
  const failure = `${last.failedStep ?? 'an unknown step'}: ${last.error ?? 'no reason given'}`;
  const reason =
    last.status === 'failed'
      ? `renewal ${last.operationId} failed at ${failure}`
      : `renewal ${last.operationId} succeeded but the certificate found is the old one`;
  return { expiring: due.map((c) => ({ ...c, reason })), renew };
}
