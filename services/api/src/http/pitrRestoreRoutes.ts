import type { FastifyInstance } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { ClusterName, parseWith, PitrTargetTime } from '@pgfleet/contracts';
import { sendCommand } from '@pgfleet/bus';
import { z } from 'zod';
import { findCluster, requestMeta } from './clusterLookup.js';
import { acceptedOperation } from './operationRoutes.js';
import type { ClusterProjection } from './projection.js';
import { reject } from './rejections.js';

/**
 * The body of `POST /v1/clusters/{name}/pitr/restore`: the instant (ISO 8601 with an offset), and
 * either `into` (a new cluster; by default `{name}-restored-{time}`) or `inPlace: true`.
 */
export const PitrRestoreBody = z.object({
  to: PitrTargetTime,
  into: ClusterName.optional(),
  inPlace: z.boolean().default(false),
});

/**
 * Restore to a time over HTTP: RestoreToTime to the pitr service (which checks the window and
 * answers at once), 202 with the `pitr-restore` operation to follow.
 */
export function registerPitrRestoreRoutes(
  app: FastifyInstance,
  ctx: { projection: ClusterProjection; nc: NatsConnection },
): void {
  app.post('/v1/clusters/:name/pitr/restore', async (req, reply) => {
    const body = parseWith(PitrRestoreBody, req.body ?? {}, 'restore');
    if (!body.ok) return reject(reply, body.rejection);
    // A deleted cluster too: its archive is kept for the plan's window (the pitr service says when it is gone).
    const cluster = await findCluster(ctx.projection, req, reply, true);
    if (!cluster) return;
    const { to, into, inPlace } = body.value;
    const data = { clusterId: cluster.clusterId, to, inPlace, ...(into ? { into: { name: into } } : {}) };
    const res = await sendCommand(ctx.nc, 'pitr', 'RestoreToTime', data, requestMeta(req));
    if (!res.ok) return reject(reply, res);
    const into_ = typeof res.result?.into === 'string' ? res.result.into : cluster.name;
    const restore = { clusterId: cluster.clusterId, cluster: cluster.name, to, inPlace, into: into_ };
    if (acceptedOperation(reply, res, restore)) return reply;
    return reply.code(202).send({ ...res, ...restore });
  });
}
