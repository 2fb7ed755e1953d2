import { z } from 'zod';
import { Id } from '../names.js';

/** Events of the `gateway-{clusterId}` stream: the networking service owns them. */
export const gatewayEvents = {
  /** A gateway process serves the cluster on host:port (two gateways of a Business cluster share one address). */
  GatewayStarted: z.object({ gatewayId: Id, host: z.string().min(1), port: z.number().int().positive() }),
  /** Every gateway of the cluster forwards new connections to this node only. */
  GatewayLeaderSet: z.object({ leader: Id, gatewayIds: z.array(Id).min(1) }),
  /** The cluster was deleted: its gateways are stopped and their files removed. */
  GatewaysRemoved: z.object({ gatewayIds: z.array(Id) }),
  /** Every node of the cluster accepts only TLS over TCP (hostssl); plaintext connections are refused. */
  TlsForced: z.object({ nodes: z.array(Id) }),
  /** Every node got a new certificate (same CA, same names), valid until `notAfter` (ISO time). */
  CertificatesRotated: z.object({ nodes: z.array(Id), notAfter: z.string() }),
  /** The gateways also listen on a non-loopback address (only ever with TLS forced). */
  ClusterExposed: z.object({ address: z.string().min(1), port: z.number().int().positive() }),
  /** The gateways listen on loopback only again. */
  ClusterUnexposed: z.object({}),
} as const;
