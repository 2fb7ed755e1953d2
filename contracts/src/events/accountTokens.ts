import { z } from 'zod';
import { AccountId } from '../names.js';

/**
 * The sha256 (hex) of an account's API token. Only the hash is recorded: the token itself is
 * printed once to whoever created or rotated it, and the API compares hashes in constant time.
 */
export const TokenHash = z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex sha256');

/**
 * Events of the `tokens-{accountId}` stream (the API owns them): an account and its one API token.
 * Apart from `account-{accountId}`, which billing folds for its invoices (and appends to with an
 * expected version): access and money are different aggregates.
 */
export const accountTokenEvents = {
  /** The account exists, and a token whose hash is `tokenHash` acts on it (and only on it). */
  AccountCreated: z.object({ accountId: AccountId, tokenHash: TokenHash }),
  /** A new token replaces the account's token (or a revoked one): the previous one stops working at once. */
  AccountTokenRotated: z.object({ accountId: AccountId, tokenHash: TokenHash }),
  /** The account's token stops working; the account and its clusters stay, and the admin can rotate a new token. */
  AccountTokenRevoked: z.object({ accountId: AccountId }),
} as const;
