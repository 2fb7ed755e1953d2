import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * An account's API token: `pgf_{accountId}.{43 base64url characters}` (32 random bytes). The
 * account id in the clear tells the API which hash to compare with, so checking a token is one
 * constant-time comparison, and a token is recognizable in a leak report. The admin token (the
 * file `$PGFLEET_HOME/api-token`) has no such prefix.
 */
const ACCOUNT_TOKEN = /^pgf_([a-z0-9][a-z0-9_-]{0,62})\.([A-Za-z0-9_-]{43})$/;

/** A new token for the account; the caller prints it once and records only its hash. */
export function newAccountToken(accountId: string): string {
  return `pgf_${accountId}.${randomBytes(32).toString('base64url')}`;
}

/** The hex sha256 of a token: what the events record. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The account a token claims to belong to, if it has the shape of an account token (not a proof). */
export function accountOfToken(token: string): string | undefined {
  return ACCOUNT_TOKEN.exec(token)?.[1];
}

/** A hash of the right length that matches nothing: compared with when the account has no token. */
const NO_HASH = '0'.repeat(64);

/**
 * Whether `token` hashes to `recorded` (hex sha256), compared in constant time. Without a recorded
 * hash (no such account, token revoked) the comparison still runs, so the answer takes as long.
 */
export function tokenMatches(token: string, recorded: string | undefined): boolean {
  const given = Buffer.from(hashToken(token), 'hex');
  const want = Buffer.from(recorded ?? NO_HASH, 'hex');
  return given.length === want.length && timingSafeEqual(given, want) && recorded !== undefined;
}

/** Whether `given` is the admin token, compared in constant time. */
export function isAdminToken(given: string, adminToken: string): boolean {
  const a = Buffer.from(hashToken(given), 'hex');
  const b = Buffer.from(hashToken(adminToken), 'hex');
  return timingSafeEqual(a, b);
}
