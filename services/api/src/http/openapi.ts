import { z } from 'zod';
import { CommandReply } from '@pgfleet/contracts';
import { accountPaths } from './accountRoutes.js';
import { backupPaths } from './backupOpenapi.js';
import { billingPaths } from './billingOpenapi.js';
import { ClusterShown } from './clusterShown.js';
import { haPaths } from './haOpenapi.js';
import { networkPaths } from './networkOpenapi.js';
import { extensionPaths } from './extensionRoutes.js';
import { maintenancePaths } from './maintenanceRoutes.js';
import { upgradePaths } from './upgradeRoutes.js';
import { planPaths } from './planRoutes.js';
import { pitrPaths } from './pitrOpenapi.js';
import { pitrRestorePaths } from './pitrRestoreOpenapi.js';
import { idempotencyKeyHeader, operationAccepted, operationPaths } from './operationOpenapi.js';
import { AuditQuery, CreateClusterBody, ErrorBody } from './schemas.js';
import { json } from './openapiParts.js';

const errors = {
  400: { description: 'invalid input', content: json(ErrorBody) },
  401: { description: 'missing or wrong token', content: json(ErrorBody) },
  404: { description: 'no such cluster', content: json(ErrorBody) },
};
const nameParam = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];
const accepted = { 202: { description: 'accepted', content: json(CommandReply) }, ...errors };
const operation = { ...errors, ...operationAccepted };
const idempotent = [...nameParam, idempotencyKeyHeader];

/** OpenAPI 3.1 document of the HTTP API, generated from the zod schemas. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'pgfleet API',
      version: '0.1.0',
      description:
        'Managed PostgreSQL control plane. Every route but /healthz and /openapi.json needs ' +
        '`Authorization: Bearer TOKEN`: the admin token (in $PGFLEET_HOME/api-token) acts on any account ' +
        '(`accountId`, default `default`); an account token (`pgfleet account create`) acts on its own account ' +
        "only, and another account's clusters are 404 to it, as clusters that do not exist.",
    },
    components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
    security: [{ token: [] }],
    paths: {
      '/v1/clusters': {
        get: { summary: 'List clusters', responses: { 200: { description: 'clusters' } } },
        post: {
          summary: 'Create a cluster',
          parameters: [idempotencyKeyHeader],
          requestBody: { required: true, content: json(CreateClusterBody) },
          responses: accepted,
        },
      },
      '/v1/clusters/{name}': {
        get: {
          summary:
            'Show a cluster with its nodes (role, state, health, lag, timeline, sync/async, fenced), its ' +
            'durability, failover term and last failover',
          parameters: nameParam,
          responses: { 200: { description: 'cluster', content: json(ClusterShown) }, ...errors },
        },
        delete: { summary: 'Delete a cluster (an operation)', parameters: idempotent, responses: operation },
      },
      '/v1/clusters/{name}/retry': {
        post: {
          summary: 'Retry a failed provisioning where it stopped (an operation)',
          parameters: idempotent,
          responses: operation,
        },
      },
      '/v1/clusters/{name}/url': {
        get: {
          summary: 'Connection URL (with the password); ?readonly=true: the read-only one (followers, round robin)',
          parameters: [
            ...nameParam,
            { name: 'readonly', in: 'query', required: false, schema: { type: 'string', enum: ['true', 'false'] } },
          ],
          responses: { 200: { description: 'url' }, ...errors },
        },
      },
      ...backupPaths(),
      ...networkPaths(),
      ...haPaths(),
      ...planPaths(),
      ...maintenancePaths(),
      ...extensionPaths(),
      ...upgradePaths(),
      ...operationPaths(),
      ...billingPaths(),
      ...accountPaths(),
      ...pitrPaths(),
      ...pitrRestorePaths(),
      '/v1/clusters/{name}/audit': {
        get: {
          summary:
            'Every event about a cluster from all its streams (cluster, backups, gateway...) in global order, ' +
            'and its state at an instant (nodes, leader, gateways, TLS, backups available)',
          parameters: [
            ...nameParam,
            { name: 'at', in: 'query', schema: z.toJSONSchema(AuditQuery.shape.at.unwrap()) },
            { name: 'type', in: 'query', schema: z.toJSONSchema(AuditQuery.shape.type.unwrap()) },
          ],
          responses: { 200: { description: 'history' }, ...errors },
        },
      },
    },
  };
}
