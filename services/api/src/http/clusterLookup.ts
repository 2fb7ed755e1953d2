import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseWith } from '@pgfleet/contracts';
import { callerOf } from './authentication.js';
import { actorOf, scopeAccount, scopedAccountOf } from './callerScope.js';
import type { ClusterProjection, ClusterSummary } from './projection.js';
import { idempotencyKeyOf } from './idempotency.js';
import { reject } from './rejections.js';
import { AccountQuery } from './schemas.js';

/**
 * Who sent a command through the API (`account:ID` or `admin`, and the account a token is scoped
 * to), the correlation id to carry (header or request id), and the request's `Idempotency-Key` as
 * the command id, so the services do the command once.
 */
export const requestMeta = (req: FastifyRequest) => {
  const key = idempotencyKeyOf(req);
  const caller = callerOf(req);
  return {
    actor: actorOf(caller),
    ...scopedAccountOf(caller),
    correlationId: String(req.headers['x-correlation-id'] ?? req.id),
    ...(key ? { commandId: key } : {}),
  };
};

/**
 * The account a request acts on: an account token's own (naming another is 403), or for the admin
 * the `?accountId=` it names, else `default`. Undefined with the rejection already sent.
 */
export function requestAccount(req: FastifyRequest, reply: FastifyReply): string | undefined {
  const q = parseWith(AccountQuery, req.query ?? {}, 'query');
  if (!q.ok) return void reject(reply, q.rejection);
  const scoped = scopeAccount(callerOf(req), q.value.accountId);
  if (!scoped.ok) return void reject(reply, scoped.rejection);
  return scoped.accountId;
}

/**
 * The cluster named in the path (`:name`) in the request's account (see `requestAccount`), from the
 * projection once it has caught up with every event committed before the request
 * (read-your-writes); or undefined with the rejection already sent (bad query, another account
 * named, no such cluster). Another account's cluster is looked for only in the caller's account,
 * so it is `404 no cluster named …`, exactly like a cluster that does not exist.
 */
export async function findCluster(
  projection: ClusterProjection,
  req: FastifyRequest,
  reply: FastifyReply,
  includeDeleted = false,
): Promise<ClusterSummary | undefined> {
  const accountId = requestAccount(req, reply);
  if (accountId === undefined) return undefined;
  await projection.caughtUp();
  const name = (req.params as { name: string }).name;
  const row = projection.byName(name, accountId, includeDeleted);
  if (!row) {
    void reject(reply, { code: 'CLUSTER_NOT_FOUND', message: `no cluster named ${name}`, details: { field: 'name' } });
  }
  return row;
}
