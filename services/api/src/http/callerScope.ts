import { ADMIN_ACTOR, type Actor, type Rejection } from '@pgfleet/contracts';

/**
 * Who sent a request, from its bearer token: the admin (the token in `$PGFLEET_HOME/api-token`),
 * who acts on any account, or an account, whose token acts on that account only.
 */
export type Caller = { kind: 'admin' } | { kind: 'account'; accountId: string };

/** The account the admin acts on when a request names none (as before accounts). */
const DEFAULT_ACCOUNT = 'default';

type Scoped = { ok: true; accountId: string } | { ok: false; rejection: Rejection };

/**
 * The account a request acts on. The admin: the one it names (`accountId`), else `default`. An
 * account: its own; naming another account is refused the same way whether that account exists
 * or not, so nothing is learnt about others.
 */
export function scopeAccount(caller: Caller, requested: string | undefined): Scoped {
  if (caller.kind === 'admin') return { ok: true, accountId: requested ?? DEFAULT_ACCOUNT };
  if (requested === undefined || requested === caller.accountId) return { ok: true, accountId: caller.accountId };
  const message = `this token acts on account ${caller.accountId} only, not on ${requested}`;
  return { ok: false, rejection: { code: 'ACCOUNT_FORBIDDEN', message, details: { field: 'accountId' } } };
}

/**
 * Whether the caller may see something of `accountId` (a cluster, an operation, an account's
 * billing). The routes answer 404 when not, exactly as for something that does not exist.
 */
export const canSee = (caller: Caller, accountId: string): boolean =>
  caller.kind === 'admin' || caller.accountId === accountId;

/** The actor recorded on the events a request causes: `account:ID` or `admin`. */
export const actorOf = (caller: Caller): Actor =>
  caller.kind === 'admin' ? ADMIN_ACTOR : { kind: 'account', id: caller.accountId };

/** What a command sent over NATS carries as `meta.account`: the account a token is scoped to (none for the admin). */
export const scopedAccountOf = (caller: Caller): { account?: string } =>
  caller.kind === 'account' ? { account: caller.accountId } : {};

/** Only the admin creates accounts and rotates or revokes their tokens. */
export function adminOnly(caller: Caller): Rejection | undefined {
  if (caller.kind === 'admin') return undefined;
  return { code: 'ADMIN_ONLY', message: 'only the admin token (in $PGFLEET_HOME/api-token) manages accounts' };
}
