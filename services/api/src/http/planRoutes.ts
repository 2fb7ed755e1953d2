import type { FastifyInstance } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { findPlan, parseWith, PLAN_IDS } from '@pgfleet/contracts';
import { sendCommand } from '@pgfleet/bus';
import { findCluster, requestMeta } from './clusterLookup.js';
import { acceptedOperation } from './operationRoutes.js';
import { idempotencyKeyHeader, operationAccepted } from './operationOpenapi.js';
import type { ClusterProjection } from './projection.js';
import { reject } from './rejections.js';
import { json, error } from './openapiParts.js';

export interface PlanRoutesContext {
  projection: ClusterProjection;
  nc: NatsConnection;
}

const PlanBody = z.object({ plan: z.string().min(1).max(64) }).strict();

/**
 * `POST /v1/clusters/{name}/plan {plan}` (`pgfleet cluster plan NAME --plan PLAN`): the plan change
 * is an operation of the provisioning service; 202 with its id. An unknown plan is refused here in
 * one sentence; the same plan, a plan whose disk is smaller than the data, a cluster not ready by
 * the service's decision. Nothing is recorded when refused.
 */
export function registerPlanRoutes(app: FastifyInstance, ctx: PlanRoutesContext): void {
  app.post('/v1/clusters/:name/plan', async (req, reply) => {
    const body = parseWith(PlanBody, req.body ?? {}, 'plan change');
    if (!body.ok) return reject(reply, body.rejection);
    if (!findPlan(body.value.plan)) {
      const message = `unknown plan ${body.value.plan}; the plans are ${PLAN_IDS.join(', ')}`;
      return reject(reply, { code: 'UNKNOWN_PLAN', message, details: { field: 'plan' } });
    }
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const data = { clusterId: row.clusterId, plan: body.value.plan };
    const res = await sendCommand(ctx.nc, 'provisioning', 'ChangePlan', data, requestMeta(req), { timeoutMs: 30_000 });
    if (!res.ok) return reject(reply, res);
    if (acceptedOperation(reply, res, { clusterId: row.clusterId })) return reply;
    return reply.code(202).send({ ...res, clusterId: row.clusterId });
  });
}

/** The OpenAPI path of the plan change. */
export function planPaths(): Record<string, unknown> {
  return {
    '/v1/clusters/{name}/plan': {
      post: {
        summary:
          'Change the plan online (an operation): Starter -> Business adds two followers, synchronous replication ' +
          'and a second gateway; Business -> Starter removes them; the same family resizes with a rolling restart',
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, idempotencyKeyHeader],
        requestBody: { content: json(PlanBody) },
        responses: {
          ...operationAccepted,
          400: error('invalid input or unknown plan (UNKNOWN_PLAN)'),
          401: error('missing or wrong token'),
          404: error('no such cluster'),
          409: error(
            'already on that plan (SAME_PLAN), the data exceed the plan disk (DATA_EXCEEDS_DISK, with both sizes), ' +
              'not ready, or another operation in progress (OPERATION_IN_PROGRESS)',
          ),
        },
      },
    },
  };
}
