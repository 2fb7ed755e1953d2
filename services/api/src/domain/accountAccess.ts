import type { EventOfType, Rejection } from '@pgfleet/contracts';

/** Events of the `tokens-{accountId}` stream. */
export type AccountAccessEvent =
  | EventOfType<'AccountCreated'>
  | EventOfType<'AccountTokenRotated'>
  | EventOfType<'AccountTokenRevoked'>;

export const ACCOUNT_ACCESS_EVENT_TYPES: readonly AccountAccessEvent['type'][] = [
  'AccountCreated',
  'AccountTokenRotated',
  'AccountTokenRevoked',
];

/** An account as its stream says: whether it exists, and the hash of the one token that acts on it. */
export interface AccountAccess {
  status: 'none' | 'active' | 'revoked';
  /** Present while a token works (`active`). */
  tokenHash?: string;
}

export const initialAccountAccess: AccountAccess = { status: 'none' };

/** The admin's commands on an account; new tokens are made by the caller (no randomness here), only hashes come in. */
export type AccountAccessCommand =
  | { type: 'CreateAccount'; accountId: string; tokenHash: string }
  | { type: 'RotateAccountToken'; accountId: string; tokenHash: string }
  | { type: 'RevokeAccountToken'; accountId: string };

export type AccountAccessDecision = { ok: true; events: AccountAccessEvent[] } | { ok: false; rejection: Rejection };

export function evolveAccountAccess(_state: AccountAccess, event: AccountAccessEvent): AccountAccess {
  // Each event says the whole access state: the previous state does not matter.
  switch (event.type) {
    case 'AccountCreated':
    case 'AccountTokenRotated':
      return { status: 'active', tokenHash: event.data.tokenHash };
    case 'AccountTokenRevoked':
      return { status: 'revoked' };
    default: {
      const never: never = event;
      throw new Error(`unhandled account access event ${JSON.stringify(never)}`);
    }
  }
}

const notFound = (accountId: string): AccountAccessDecision => ({
  ok: false,
  rejection: { code: 'ACCOUNT_NOT_FOUND', message: `no account named ${accountId}`, details: { field: 'name' } },
});

/**
 * An account is created once (its name is its id, as in `--account ID`); its token can be rotated
 * (also after a revoke: that is how a revoked account gets a token again) and revoked (revoking a
 * revoked token records nothing).
 */
export function decideAccountAccess(command: AccountAccessCommand, state: AccountAccess): AccountAccessDecision {
  const { accountId } = command;
  switch (command.type) {
    case 'CreateAccount': {
      if (state.status !== 'none') {
        const rotate = `"pgfleet account token rotate ${accountId}"`;
        const message = `account ${accountId} already exists: ${rotate} gives it a new token`;
        return { ok: false, rejection: { code: 'ACCOUNT_EXISTS', message, details: { field: 'name' } } };
      }
      return { ok: true, events: [{ type: 'AccountCreated', data: { accountId, tokenHash: command.tokenHash } }] };
    }
    case 'RotateAccountToken': {
      if (state.status === 'none') return notFound(accountId);
      return { ok: true, events: [{ type: 'AccountTokenRotated', data: { accountId, tokenHash: command.tokenHash } }] };
    }
    case 'RevokeAccountToken': {
      if (state.status === 'none') return notFound(accountId);
      if (state.status === 'revoked') return { ok: true, events: [] };
      return { ok: true, events: [{ type: 'AccountTokenRevoked', data: { accountId } }] };
    }
    default: {
      const never: never = command;
      throw new Error(`unhandled account access command ${JSON.stringify(never)}`);
    }
  }
}

export function isAccountAccessEvent<E extends { type: string }>(e: E): e is E & AccountAccessEvent {
  return (ACCOUNT_ACCESS_EVENT_TYPES as readonly string[]).includes(e.type);
}
