import type { FastifyInstance, FastifyReply } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import {
  boundOn,
  COMMANDS,
  findPlan,
  foldClusterView,
  formatAmount,
  PARAMETERS,
  parseWith,
  streamIds,
  type CommandReply,
} from '@pgfleet/contracts';
import { sendCommand } from '@pgfleet/bus';
import type { EventStore } from '@pgfleet/eventstore';
import { findCluster, requestMeta } from './clusterLookup.js';
import { acceptedOperation } from './operationRoutes.js';
import { idempotencyKeyHeader, operationAccepted } from './operationOpenapi.js';
import type { ClusterProjection } from './projection.js';
import { reject } from './rejections.js';
import { json, error } from './openapiParts.js';

export interface MaintenanceRoutesContext {
  projection: ClusterProjection;
  nc: NatsConnection;
  store: EventStore;
}

const ConfigBody = COMMANDS.provisioning.SetClusterParameters.pick({ parameters: true }).strict();
/** The body of a restart (optional): `reason: 'minor-upgrade'` for `pgfleet upgrade NAME --minor`. */
const RestartBody = COMMANDS.provisioning.RestartCluster.pick({ reason: true }).strict();

/** One allow-listed parameter as `config show` lists it: its value on the cluster, or the plan's own. */
const ParameterShown = z.object({
  name: z.string(),
  value: z.string().nullable(),
  type: z.string(),
  min: z.string(),
  max: z.string(),
  applies: z.enum(['reload', 'restart']),
  summary: z.string(),
});

/** An accepted operation as 202 (`{operationId, kind}`), or the service's rejection. */
function answer(reply: FastifyReply, res: CommandReply, clusterId: string) {
  if (!res.ok) return reject(reply, res);
  if (acceptedOperation(reply, res, { clusterId })) return reply;
  return reply.code(202).send({ ...res, clusterId });
}

/**
 * Rolling restart and PostgreSQL parameters:
 * - `POST /v1/clusters/{name}/restart` (`pgfleet cluster restart`): an operation; 202 with its id.
 *   `{reason: 'minor-upgrade'}` (`pgfleet upgrade NAME --minor`): the same restart onto the installed
 *   binaries of the major, its result listing every node's server_version before and after.
 * - `GET /v1/clusters/{name}/config` (`pgfleet config show`): every allow-listed parameter with its
 *   value on the cluster (null: the plan's own setting), its type and bounds on the cluster's plan.
 * - `POST /v1/clusters/{name}/config {parameters: {name: value}}` (`pgfleet config set`): checked by
 *   the provisioning service against the allow-list and the plan before anything is recorded (one
 *   sentence naming the parameter refused); then an operation, 202 with its id.
 */
export function registerMaintenanceRoutes(app: FastifyInstance, ctx: MaintenanceRoutesContext): void {
  app.post('/v1/clusters/:name/restart', async (req, reply) => {
    const body = parseWith(RestartBody, req.body ?? {}, 'restart');
    if (!body.ok) return reject(reply, body.rejection);
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const data = { clusterId: row.clusterId, ...body.value };
    const res = await sendCommand(ctx.nc, 'provisioning', 'RestartCluster', data, requestMeta(req));
    return answer(reply, res, row.clusterId);
  });

  app.post('/v1/clusters/:name/config', async (req, reply) => {
    const body = parseWith(ConfigBody, req.body ?? {}, 'parameters');
    if (!body.ok) return reject(reply, body.rejection);
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const data = { clusterId: row.clusterId, parameters: body.value.parameters };
    const res = await sendCommand(ctx.nc, 'provisioning', 'SetClusterParameters', data, requestMeta(req));
    return answer(reply, res, row.clusterId);
  });

  app.get('/v1/clusters/:name/config', async (req, reply) => {
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const view = foldClusterView((await ctx.store.readStream(streamIds.cluster(row.clusterId))).events);
    const plan = findPlan(view.plan ?? '');
    if (!plan) return reject(reply, { code: 'NOT_READY', message: `cluster ${row.name} has no known plan` });
    const parameters = Object.entries(PARAMETERS).map(([name, spec]) => ({
      name,
      value: view.parameters[name] ?? null,
      type: spec.type,
      min: formatAmount(spec, boundOn(spec.min, spec, plan)),
      max: formatAmount(spec, boundOn(spec.max, spec, plan)),
      applies: spec.restart ? ('restart' as const) : ('reload' as const),
      summary: spec.summary,
    }));
    return reply.send({ cluster: row.name, plan: plan.id, parameters });
  });
}

const name = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };

/** The OpenAPI paths of the rolling restart and the parameters. */
export function maintenancePaths(): Record<string, unknown> {
  const busy = 'not ready, a node not running, or another operation in progress (OPERATION_IN_PROGRESS)';
  return {
    '/v1/clusters/{name}/restart': {
      post: {
        summary:
          'Rolling restart (an operation): Business restarts the followers one by one, switches over, then ' +
          'restarts the old leader (a follower now); one node restarts in place. `reason: minor-upgrade` makes it ' +
          'a minor upgrade: the result lists every node with its server_version before and after',
        parameters: [name, idempotencyKeyHeader],
        requestBody: { required: false, content: json(RestartBody) },
        responses: {
          ...operationAccepted,
          401: error('missing or wrong token'),
          404: error('no such cluster'),
          409: error(busy),
        },
      },
    },
    '/v1/clusters/{name}/config': {
      get: {
        summary: 'The PostgreSQL parameters users may set: value on the cluster (null: the plan default), bounds',
        parameters: [name],
        responses: {
          200: {
            description: 'parameters',
            content: json(z.object({ cluster: z.string(), plan: z.string(), parameters: z.array(ParameterShown) })),
          },
          404: error('no such cluster'),
        },
      },
      post: {
        summary:
          'Set PostgreSQL parameters (an operation): applied to every node with a reload, or a rolling restart ' +
          'when PostgreSQL reports pending_restart; `default` goes back to the plan setting',
        parameters: [name, idempotencyKeyHeader],
        requestBody: { content: json(ConfigBody) },
        responses: {
          ...operationAccepted,
          400: error(
            'unknown parameter (UNKNOWN_PARAMETER), not on the allow-list (PARAMETER_NOT_ALLOWED), a value of the ' +
              'wrong type (INVALID_PARAMETER_VALUE) or out of bounds (PARAMETER_OUT_OF_BOUNDS), no change (NO_CHANGE)',
          ),
          401: error('missing or wrong token'),
          404: error('no such cluster'),
          409: error(busy),
        },
      },
    },
  };
}
