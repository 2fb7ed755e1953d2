import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { OperationKind, parseWith, type CommandReply, type Operation } from '@pgfleet/contracts';
import { callerOf } from './authentication.js';
import { canSee } from './callerScope.js';
import { findCluster } from './clusterLookup.js';
import type { ClusterProjection, ClusterSummary } from './projection.js';
import { reject } from './rejections.js';

/** One operation as the API shows it (`GET /v1/operations/{id}`, `pgfleet operation show ID`). */
export const OperationShown = z.object({
  operationId: z.string(),
  kind: OperationKind,
  status: z.enum(['running', 'succeeded', 'failed']),
  clusterId: z.string(),
  cluster: z.string().describe('the name of the cluster it acts on'),
  params: z.record(z.string(), z.unknown()),
  requestedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  steps: z.array(z.object({ step: z.string(), at: z.string().nullable(), detail: z.record(z.string(), z.unknown()) })),
  result: z.record(z.string(), z.unknown()).nullable().describe('what the action answered, once it succeeded'),
  error: z.object({ step: z.string(), reason: z.string() }).nullable(),
});
export type OperationShown = z.infer<typeof OperationShown>;

/** The 202 answer to a long action: the operation to follow, and what the route adds (clusterId...). */
export const OperationAccepted = z.object({
  ok: z.literal(true),
  streamId: z.string().describe('the cluster stream the operation is recorded on'),
  version: z.number().int(),
  operationId: z.string(),
  kind: OperationKind,
  result: z.object({ operationId: z.string(), kind: OperationKind }),
});

const OperationParams = z.object({ id: z.string().min(1).max(128) });

function showOperation(cluster: ClusterSummary, op: Operation): OperationShown {
  return {
    operationId: op.operationId,
    kind: op.kind,
    status: op.status,
    clusterId: cluster.clusterId,
    cluster: cluster.name,
    params: op.params,
    requestedAt: op.requestedAt ?? null,
    finishedAt: op.finishedAt ?? null,
    steps: op.steps.map((s) => ({ step: s.step, at: s.at ?? null, detail: s.detail ?? {} })),
    result: op.result ?? null,
    error: op.status === 'failed' ? { step: op.failedStep ?? '', reason: op.error ?? '' } : null,
  };
}

/** The operation a service started for an accepted command (`result: { operationId, kind }`), if any. */
function operationOf(res: CommandReply): { operationId: string; kind: string } | undefined {
  if (!res.ok || typeof res.result?.operationId !== 'string') return undefined;
  return { operationId: res.result.operationId, kind: String(res.result.kind) };
}

/**
 * Answer an accepted command that started an operation: 202 with the operation id (and kind) to
 * follow, plus what the route adds. Returns false when the service answered the old way (its
 * final result, no operation): the route then answers 200 with it, as before operations.
 */
export function acceptedOperation(reply: FastifyReply, res: CommandReply, extra: Record<string, unknown>): boolean {
  const op = operationOf(res);
  if (!op) return false;
  void reply.code(202).send({ ...res, ...op, ...extra });
  return true;
}

/** `GET /v1/operations/{id}` and `GET /v1/clusters/{name}/operations`. */
export function registerOperationRoutes(app: FastifyInstance, ctx: { projection: ClusterProjection }): void {
  app.get('/v1/operations/:id', async (req, reply) => {
    const params = parseWith(OperationParams, req.params, 'path');
    if (!params.ok) return reject(reply, params.rejection);
    await ctx.projection.caughtUp();
    const found = ctx.projection.findOperation(params.value.id);
    // Another account's operation is not found, as one that does not exist.
    if (!found || !canSee(callerOf(req), found.cluster.accountId)) {
      const message = `no operation ${params.value.id}`;
      return reject(reply, { code: 'OPERATION_NOT_FOUND', message, details: { field: 'id' } });
    }
    return showOperation(found.cluster, found.operation);
  });

  app.get('/v1/clusters/:name/operations', async (req, reply) => {
    const cluster = await findCluster(ctx.projection, req, reply, true);
    if (!cluster) return;
    const operations = ctx.projection.operationsOf(cluster.clusterId).map((op) => showOperation(cluster, op));
    return { clusterId: cluster.clusterId, name: cluster.name, operations };
  });
}
