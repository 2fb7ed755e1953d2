import { z } from 'zod';
import { Id } from '../names.js';

/** Events of the `gateway-{clusterId}` stream: the networking service owns them. */
export const gatewayEvents = {
  /**
   * Where this gateway will run, decided before it is made (on a runtime whose gateways are made
   * ahead of their start: docker): the address and ports it will serve, and, on a runtime with
   * several hosts, the `host` placement chose (a Business cluster's two gateways on distinct
   * hosts, least loaded first). Its GatewayStarted serves these.
   */
  GatewayPlaced: z.object({
    gatewayId: Id,
    host: z.string().min(1).max(300).optional(),
    address: z.string().min(1),
    port: z.number().int().positive(),
    readOnlyPort: z.number().int().positive(),
  }),
  /**
   * A gateway process serves the cluster on host:port, and its read-only endpoint (the followers,
   * round robin) on host:readOnlyPort. Gateways on one host share one address (two gateways of a
   * Business cluster on one machine); gateways placed on distinct hosts each have their own, and
   * the cluster's URL names them all. `readOnlyPort` is absent in events recorded before the
   * read-only endpoint existed.
   */
  GatewayStarted: z.object({
    gatewayId: Id,
    host: z.string().min(1),
    port: z.number().int().positive(),
    readOnlyPort: z.number().int().positive().optional(),
  }),
  /** Every gateway of the cluster forwards new connections to this node only. */
  GatewayLeaderSet: z.object({ leader: Id, gatewayIds: z.array(Id).min(1) }),
  /**
   * A failover (`term`) fenced this node: every gateway of the cluster took it out (maintenance on
   * the write and read-only endpoints, its sessions shut) and keeps it out until it rejoined.
   */
  GatewayNodeFenced: z.object({
    nodeId: Id,
    term: z.number().int().positive().optional(),
    gatewayIds: z.array(Id).min(1),
  }),
  /** The fenced node rejoined as a follower: the gateways serve it again (read-only endpoint). */
  GatewayNodeUnfenced: z.object({ nodeId: Id, gatewayIds: z.array(Id).min(1) }),
  /** The cluster's plan has fewer gateways now (Business -> Starter): this one is stopped and its files removed. */
  GatewayRemoved: z.object({ gatewayId: Id }),
  /** The cluster was deleted: its gateways are stopped and their files removed. */
  GatewaysRemoved: z.object({ gatewayIds: z.array(Id) }),
  /** Every node of the cluster accepts only TLS over TCP (hostssl); plaintext connections are refused. */
  TlsForced: z.object({ nodes: z.array(Id) }),
  /** Every node got a new certificate (same CA, same names), valid until `notAfter` (ISO time). */
  CertificatesRotated: z.object({ nodes: z.array(Id), notAfter: z.string() }),
  /**
   * The automatic renewal of this node's certificate, due before `notAfter` (ISO time), failed:
   * `reason` says why (the failed step and its error, or the refusal). Renewal is tried again at
   * every check; an operator acts before `notAfter` (`pgfleet cluster certs NAME --rotate`), after
   * which a follower reconnecting with verify-full is refused.
   */
  CertificateExpiring: z.object({ clusterId: Id, nodeId: Id, notAfter: z.string(), reason: z.string().min(1) }),
  /** The gateways also listen on a non-loopback address (only ever with TLS forced). */
  ClusterExposed: z.object({ address: z.string().min(1), port: z.number().int().positive() }),
  /** The gateways listen on loopback only again. */
  ClusterUnexposed: z.object({}),
} as const;
