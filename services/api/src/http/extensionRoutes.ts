import type { FastifyInstance, FastifyReply } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import {
  EXTENSIONS,
  ExtensionName,
  foldClusterView,
  parseWith,
  streamIds,
  type CommandReply,
  type PostgresVersion,
} from '@pgfleet/contracts';
import { sendCommand } from '@pgfleet/bus';
import type { EventStore } from '@pgfleet/eventstore';
import { findCluster, requestMeta } from './clusterLookup.js';
import { acceptedOperation } from './operationRoutes.js';
import { idempotencyKeyHeader, operationAccepted } from './operationOpenapi.js';
import type { ClusterProjection } from './projection.js';
import { reject } from './rejections.js';
import { json, error } from './openapiParts.js';

export interface ExtensionRoutesContext {
  projection: ClusterProjection;
  nc: NatsConnection;
  store: EventStore;
}

/** The body of `POST /v1/clusters/{name}/extensions`: an extension of the allow-list. */
const EnableBody = z.object({ name: ExtensionName }).strict();
/** The `{ext}` of `DELETE /v1/clusters/{name}/extensions/{ext}`, checked the same way. */
const DisableParams = z.object({ extension: ExtensionName });

/** One extension of the allow-list as `extension list` shows it. */
const ExtensionShown = z.object({
  name: z.string(),
  status: z.enum(['enabled', 'available']),
  version: z
    .string()
    .describe('enabled: the version in the app database; available: the one enable installs on this major'),
  preload: z.boolean().describe('its library is preloaded (shared_preload_libraries): enable and disable restart'),
  summary: z.string(),
});
const ExtensionList = z.object({ cluster: z.string(), version: z.number().int(), extensions: z.array(ExtensionShown) });

/** An accepted operation as 202 (`{operationId, kind}`), or the service's rejection. */
function answer(reply: FastifyReply, res: CommandReply, clusterId: string) {
  if (!res.ok) return reject(reply, res);
  if (acceptedOperation(reply, res, { clusterId })) return reply;
  return reply.code(202).send({ ...res, clusterId });
}

/**
 * Extensions of a cluster (an allow-list, `EXTENSIONS` in contracts):
 * - `GET /v1/clusters/{name}/extensions` (`pgfleet extension list`): every allow-listed extension,
 *   enabled (its version) or available (the version enable installs on the cluster's major).
 * - `POST /v1/clusters/{name}/extensions {name}` (`pgfleet extension enable`) and
 *   `DELETE /v1/clusters/{name}/extensions/{ext}` (`disable`): an extension off the allow-list is
 *   refused here in one sentence naming the list; then the provisioning service decides (an
 *   operation, 202 with its id).
 */
export function registerExtensionRoutes(app: FastifyInstance, ctx: ExtensionRoutesContext): void {
  app.get('/v1/clusters/:name/extensions', async (req, reply) => {
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const view = foldClusterView((await ctx.store.readStream(streamIds.cluster(row.clusterId))).events);
    const major = view.version ?? (row.version as PostgresVersion);
    const extensions = Object.entries(EXTENSIONS).map(([name, spec]) => {
      const enabled = view.extensions[name];
      return {
        name,
        status: enabled === undefined ? ('available' as const) : ('enabled' as const),
        version: enabled ?? spec.versions[major],
        preload: spec.preload === true,
        summary: spec.summary,
      };
    });
    return reply.send({ cluster: row.name, version: major, extensions });
  });

  app.post('/v1/clusters/:name/extensions', async (req, reply) => {
    const body = parseWith(EnableBody, req.body ?? {}, 'extension');
    if (!body.ok) return reject(reply, body.rejection);
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const data = { clusterId: row.clusterId, extension: body.value.name };
    const res = await sendCommand(ctx.nc, 'provisioning', 'EnableExtension', data, requestMeta(req));
    return answer(reply, res, row.clusterId);
  });

  app.delete('/v1/clusters/:name/extensions/:ext', async (req, reply) => {
    const ext = parseWith(DisableParams, { extension: (req.params as { ext: string }).ext }, 'extension');
    if (!ext.ok) return reject(reply, ext.rejection);
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const data = { clusterId: row.clusterId, extension: ext.value.extension };
    const res = await sendCommand(ctx.nc, 'provisioning', 'DisableExtension', data, requestMeta(req));
    return answer(reply, res, row.clusterId);
  });
}

const name = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
const busy = 'not ready, a node not running, or another operation in progress (OPERATION_IN_PROGRESS)';

/** The OpenAPI paths of the extensions. */
export function extensionPaths(): Record<string, unknown> {
  return {
    '/v1/clusters/{name}/extensions': {
      get: {
        summary: 'The extensions you may enable: enabled (with its version) or available',
        parameters: [name],
        responses: {
          200: { description: 'the allow-list on this cluster', content: json(ExtensionList) },
          404: error('no such cluster'),
        },
      },
      post: {
        summary:
          'Enable an extension (an operation): created by the platform in the app database; one whose library ' +
          'is preloaded (pg_stat_statements) is added to shared_preload_libraries with a rolling restart first',
        parameters: [name, idempotencyKeyHeader],
        requestBody: { content: json(EnableBody) },
        responses: {
          ...operationAccepted,
          400: error('not an extension you may enable (VALIDATION_FAILED, the message names the allow-list)'),
          401: error('missing or wrong token'),
          404: error('no such cluster'),
          409: error(`already enabled (EXTENSION_ALREADY_ENABLED), ${busy}`),
        },
      },
    },
    '/v1/clusters/{name}/extensions/{ext}': {
      delete: {
        summary:
          'Disable an extension (an operation): DROP EXTENSION, never CASCADE (objects using it make it fail); a ' +
          'preloaded library leaves shared_preload_libraries with a rolling restart',
        parameters: [
          name,
          { name: 'ext', in: 'path', required: true, schema: { type: 'string' } },
          idempotencyKeyHeader,
        ],
        responses: {
          ...operationAccepted,
          400: error('not an extension you may enable (VALIDATION_FAILED, the message names the allow-list)'),
          401: error('missing or wrong token'),
          404: error('no such cluster'),
          409: error(`not enabled (EXTENSION_NOT_ENABLED), ${busy}`),
        },
      },
    },
  };
}
