import type { FastifyInstance } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { parseWith } from '@pgfleet/contracts';
import { sendCommand } from '@pgfleet/bus';
import { findCluster, requestMeta } from './clusterLookup.js';
import { acceptedOperation } from './operationRoutes.js';
import type { ClusterProjection } from './projection.js';
import { reject } from './rejections.js';
import { DurabilityBody, FailoverBody } from './schemas.js';

export interface HaRoutesContext {
  projection: ClusterProjection;
  nc: NatsConnection;
}

/** The HA service records the request and answers at once; the failover itself is an operation. */
const HA_COMMAND_TIMEOUT_MS = 30_000;

/**
 * High-availability routes, answered by the `ha` service: a manual failover (`pgfleet cluster
 * failover NAME [--to NODE] [--accept-data-loss]`) and the durability setting (`pgfleet cluster
 * durability NAME strict|available`).
 */
export function registerHaRoutes(app: FastifyInstance, ctx: HaRoutesContext): void {
  app.post('/v1/clusters/:name/failover', async (req, reply) => {
    const body = parseWith(FailoverBody, req.body ?? {}, 'failover');
    if (!body.ok) return reject(reply, body.rejection);
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const data = { clusterId: row.clusterId, ...body.value };
    const res = await sendCommand(ctx.nc, 'ha', 'FailoverCluster', data, requestMeta(req), {
      timeoutMs: HA_COMMAND_TIMEOUT_MS,
    });
    if (!res.ok) return reject(reply, res);
    // An operation: 202 now; the CLI follows it (and the gateways) on the event stream. The reply's
    // `result` carries the operation id; its kind is a failover whether or not the reply names it.
    const kind = typeof res.result?.kind === 'string' ? {} : { kind: 'failover' };
    if (acceptedOperation(reply, res, { clusterId: row.clusterId, ...kind })) return reply;
    return { ...res, clusterId: row.clusterId };
  });

  app.put('/v1/clusters/:name/durability', async (req, reply) => {
    const body = parseWith(DurabilityBody, req.body ?? {}, 'durability');
    if (!body.ok) return reject(reply, body.rejection);
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const data = { clusterId: row.clusterId, durability: body.value.durability };
    const res = await sendCommand(ctx.nc, 'ha', 'SetClusterDurability', data, requestMeta(req), {
      timeoutMs: HA_COMMAND_TIMEOUT_MS,
    });
    if (!res.ok) return reject(reply, res);
    return { ...res, clusterId: row.clusterId, name: row.name, durability: body.value.durability };
  });
}
