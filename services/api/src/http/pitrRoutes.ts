import type { FastifyInstance } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { findPlan } from '@pgfleet/contracts';
import { sendCommand } from '@pgfleet/bus';
import type { EventStore } from '@pgfleet/eventstore';
import { findCluster, requestMeta } from './clusterLookup.js';
import { pitrStatus } from './pitrStatus.js';
import type { ClusterProjection } from './projection.js';
import { reject } from './rejections.js';

export interface PitrRoutesContext {
  projection: ClusterProjection;
  nc: NatsConnection;
  store: EventStore;
}

/**
 * PITR over HTTP: the status (recoverable window, archiving lag, full backups; a deleted cluster's
 * archive is shown while it is kept) and a full backup now (RequestPitrBackup to the pitr service).
 */
export function registerPitrRoutes(app: FastifyInstance, ctx: PitrRoutesContext): void {
  app.get('/v1/clusters/:name/pitr', async (req, reply) => {
    const cluster = await findCluster(ctx.projection, req, reply, true);
    if (!cluster) return;
    if ((findPlan(cluster.plan)?.pitrDays ?? 0) === 0) {
      const message =
        `the ${cluster.plan} plan of cluster ${cluster.name} has no point-in-time recovery;` +
        ' change to a starter or business plan';
      return reject(reply, { code: 'PITR_NOT_IN_PLAN', message, details: { field: 'name', plan: cluster.plan } });
    }
    return pitrStatus(ctx.store, ctx.nc, cluster);
  });

  app.post('/v1/clusters/:name/pitr/backup', async (req, reply) => {
    const cluster = await findCluster(ctx.projection, req, reply);
    if (!cluster) return;
    const data = { clusterId: cluster.clusterId };
    const res = await sendCommand(ctx.nc, 'pitr', 'RequestPitrBackup', data, requestMeta(req));
    if (!res.ok) return reject(reply, res);
    return reply.code(202).send({ ...res, clusterId: cluster.clusterId, backupId: res.result?.backupId });
  });
}
