import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AccountId, parseWith } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { hashToken, newAccountToken } from '../accounts/accountTokens.js';
import { recordAccountAccess } from '../accounts/recordAccountAccess.js';
import type { AccountAccessCommand } from '../domain/accountAccess.js';
import { callerOf } from './authentication.js';
import { actorOf, adminOnly } from './callerScope.js';
import { keepAnswerOutOfRecords } from './idempotency.js';
import { reject } from './rejections.js';
import { json, error } from './openapiParts.js';

/** `POST /v1/accounts`: the new account's name, which is its id (`--account ID`, `accountId`). */
const CreateAccountBody = z.object({ name: AccountId }).strict();
const AccountParams = z.object({ accountId: AccountId });

/** The answer that carries a new token: shown once, never stored (only its sha256 is recorded). */
const TokenIssued = z.object({ accountId: z.string(), token: z.string() });

/**
 * Accounts and their tokens, for the admin token only: create an account (`201 { accountId,
 * token }`), rotate its token (`POST .../token`: a new one, the previous one stops working) and
 * revoke it (`DELETE .../token`). The events (`AccountCreated`, `AccountTokenRotated`,
 * `AccountTokenRevoked` on `tokens-{accountId}`) record only the token's hash; the answer that
 * carries a token is kept out of the idempotency records, which are written to a file.
 */
export function registerAccountRoutes(app: FastifyInstance, ctx: { store: EventStore }): void {
  const decide = async (req: FastifyRequest, reply: FastifyReply, command: AccountAccessCommand) => {
    const meta = { actor: actorOf(callerOf(req)), correlationId: String(req.headers['x-correlation-id'] ?? req.id) };
    const recorded = await recordAccountAccess(ctx.store, command, meta);
    if (!recorded.ok) return void reject(reply, recorded.rejection);
    return recorded;
  };
  const admin = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const refused = adminOnly(callerOf(req));
    if (refused) void reject(reply, refused);
    return refused === undefined;
  };

  app.post('/v1/accounts', async (req, reply) => {
    if (!admin(req, reply)) return;
    const body = parseWith(CreateAccountBody, req.body ?? {}, 'account');
    if (!body.ok) return reject(reply, body.rejection);
    const accountId = body.value.name;
    const token = newAccountToken(accountId);
    keepAnswerOutOfRecords(req);
    if (!(await decide(req, reply, { type: 'CreateAccount', accountId, tokenHash: hashToken(token) }))) return;
    return reply.code(201).send({ accountId, token });
  });

  app.post('/v1/accounts/:accountId/token', async (req, reply) => {
    if (!admin(req, reply)) return;
    const p = parseWith(AccountParams, req.params, 'path');
    if (!p.ok) return reject(reply, p.rejection);
    const { accountId } = p.value;
    const token = newAccountToken(accountId);
    keepAnswerOutOfRecords(req);
    if (!(await decide(req, reply, { type: 'RotateAccountToken', accountId, tokenHash: hashToken(token) }))) return;
    return { accountId, token };
  });

  app.delete('/v1/accounts/:accountId/token', async (req, reply) => {
    if (!admin(req, reply)) return;
    const p = parseWith(AccountParams, req.params, 'path');
    if (!p.ok) return reject(reply, p.rejection);
    const { accountId } = p.value;
    const recorded = await decide(req, reply, { type: 'RevokeAccountToken', accountId });
    if (!recorded) return;
    return { accountId, revoked: true, alreadyRevoked: recorded.recorded === 0 };
  });
}

const accountParam = { name: 'accountId', in: 'path', required: true, schema: { type: 'string' } };
const refusals = {
  400: error('invalid name'),
  401: error('missing, wrong, rotated or revoked token'),
  403: error('not the admin token (ADMIN_ONLY)'),
};

/** The OpenAPI paths of the account routes (admin token only). */
export function accountPaths(): Record<string, unknown> {
  return {
    '/v1/accounts': {
      post: {
        summary: 'Create an account and its API token (shown once: only its sha256 is stored)',
        requestBody: { required: true, content: json(CreateAccountBody) },
        responses: {
          201: { description: 'the account and its token', content: json(TokenIssued) },
          ...refusals,
          409: error('the account exists (ACCOUNT_EXISTS)'),
        },
      },
    },
    '/v1/accounts/{accountId}/token': {
      post: {
        summary: "Rotate the account's token: a new one (shown once); the previous one stops working at once",
        parameters: [accountParam],
        responses: {
          200: { description: 'the new token', content: json(TokenIssued) },
          ...refusals,
          404: error('no such account (ACCOUNT_NOT_FOUND)'),
        },
      },
      delete: {
        summary: "Revoke the account's token: it stops working at once (the account and its clusters stay)",
        parameters: [accountParam],
        responses: {
          200: { description: 'revoked' },
          ...refusals,
          404: error('no such account (ACCOUNT_NOT_FOUND)'),
        },
      },
    },
  };
}
