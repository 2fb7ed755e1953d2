import type { FastifyInstance } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { COMMANDS, parseWith } from '@pgfleet/contracts';
import { sendCommand } from '@pgfleet/bus';
import { findCluster, requestMeta } from './clusterLookup.js';
import { acceptedOperation } from './operationRoutes.js';
import { idempotencyKeyHeader, operationAccepted } from './operationOpenapi.js';
import type { ClusterProjection } from './projection.js';
import { reject } from './rejections.js';
import { json, error } from './openapiParts.js';

/** The body of `POST /v1/clusters/{name}/upgrade`: the target major version, and `checkOnly` for `--check`. */
const UpgradeBody = COMMANDS.upgrade.UpgradeCluster.pick({ toVersion: true, checkOnly: true }).strict();

/**
 * Major upgrade over HTTP (`pgfleet upgrade NAME --to 15 [--check]`): UpgradeCluster to the upgrade
 * service, which refuses at once what cannot be upgraded, else 202 with the `major-upgrade` operation.
 */
export function registerUpgradeRoutes(
  app: FastifyInstance,
  ctx: { projection: ClusterProjection; nc: NatsConnection },
): void {
  app.post('/v1/clusters/:name/upgrade', async (req, reply) => {
    const body = parseWith(UpgradeBody, req.body ?? {}, 'toVersion');
    if (!body.ok) return reject(reply, body.rejection);
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const data = { clusterId: row.clusterId, ...body.value };
    const res = await sendCommand(ctx.nc, 'upgrade', 'UpgradeCluster', data, requestMeta(req));
    if (!res.ok) return reject(reply, res);
    if (acceptedOperation(reply, res, { clusterId: row.clusterId })) return reply;
    return reply.code(202).send({ ...res, clusterId: row.clusterId });
  });
}

/** The OpenAPI path of the major upgrade. */
export function upgradePaths(): Record<string, unknown> {
  return {
    '/v1/clusters/{name}/upgrade': {
      post: {
        summary:
          'Major upgrade (an operation): pg_upgrade --check against the running cluster, then pg_upgrade --link ' +
          'of the leader, started on the new version (same URL), extensions updated, followers re-cloned, a new ' +
          'PITR full backup; `checkOnly` stops after the check',
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, idempotencyKeyHeader],
        requestBody: { content: json(UpgradeBody) },
        responses: {
          ...operationAccepted,
          400: error(
            'a version the platform does not run (VALIDATION_FAILED), the version the cluster runs ' +
              '(ALREADY_ON_VERSION) or an older one (DOWNGRADE_NOT_SUPPORTED)',
          ),
          401: error('missing or wrong token'),
          404: error('no such cluster'),
          409: error('not ready (CLUSTER_NOT_READY) or another operation in progress (OPERATION_IN_PROGRESS)'),
        },
      },
    },
  };
}
