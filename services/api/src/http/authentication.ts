import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountDirectory } from '../accounts/accountDirectory.js';
import { isAdminToken } from '../accounts/accountTokens.js';
import type { Caller } from './callerScope.js';
import { reject } from './rejections.js';

/** Routes anyone may read: the health check and the API's description. */
const OPEN_ROUTES = new Set(['/healthz', '/openapi.json']);

const callers = new WeakMap<FastifyRequest, Caller>();

/** Who sent the request, as its bearer token said (set for every route but the open ones). */
export function callerOf(req: FastifyRequest): Caller {
  const caller = callers.get(req);
  if (!caller) throw new Error(`no caller for ${req.method} ${req.url}: the route is not behind authentication`);
  return caller;
}

/**
 * Who sent the request, as a key (`admin`, `account:ID`; `anonymous` on the open routes): what
 * idempotency keys are scoped to.
 */
export function callerKeyOf(req: FastifyRequest): string {
  const caller = callers.get(req);
  if (!caller) return 'anonymous';
  return caller.kind === 'admin' ? 'admin' : `account:${caller.accountId}`;
}

/**
 * Every request but the open routes names its caller with `Authorization: Bearer TOKEN`: the admin
 * token (compared in constant time), or an account's live token (its hash compared in constant
 * time with the one the account's stream records). Anything else is 401, the same answer for a
 * wrong, rotated or revoked token.
 */
export function registerAuthentication(
  app: FastifyInstance,
  opts: { adminToken: string; directory: Pick<AccountDirectory, 'accountOf'> },
): void {
  app.addHook('onRequest', async (req, reply) => {
    if (OPEN_ROUTES.has(req.url)) return;
    const given = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
    if (isAdminToken(given, opts.adminToken)) {
      callers.set(req, { kind: 'admin' });
      return;
    }
    const accountId = await opts.directory.accountOf(given);
    if (accountId !== undefined) {
      callers.set(req, { kind: 'account', accountId });
      return;
    }
    const message = 'missing, wrong, rotated or revoked API token (the admin token is in $PGFLEET_HOME/api-token)';
    return reject(reply, { code: 'UNAUTHORIZED', message });
  });
}
