import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { accountOfToken, hashToken, isAdminToken, newAccountToken, tokenMatches } from './accountTokens.js';

describe('account tokens', () => {
  it('are 32 random bytes after the account id, and say their account', () => {
    const a = newAccountToken('acme');
    const b = newAccountToken('acme');
    expect(a).toMatch(/^pgf_acme\.[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(Buffer.from(a.slice('pgf_acme.'.length), 'base64url')).toHaveLength(32);
    expect(accountOfToken(a)).toBe('acme');
    expect(accountOfToken(newAccountToken('team_2-b'))).toBe('team_2-b');
  });

  it('are recognized by their shape only: the admin token and garbage name no account', () => {
    expect(accountOfToken('kq3U1xJ0aVbUq7cE6bCkz2fL9XyW0qzT')).toBeUndefined();
    expect(accountOfToken('pgf_acme.short')).toBeUndefined();
    expect(accountOfToken(`pgf_ACME.${'a'.repeat(43)}`)).toBeUndefined();
    expect(accountOfToken(`pgf_acme.${'a'.repeat(43)}x`)).toBeUndefined();
    expect(accountOfToken('')).toBeUndefined();
  });

  it('are recorded as their hex sha256', () => {
    const token = newAccountToken('acme');
    expect(hashToken(token)).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('match the recorded hash of themselves only', () => {
    const token = newAccountToken('acme');
    const rotated = newAccountToken('acme');
    expect(tokenMatches(token, hashToken(token))).toBe(true);
    expect(tokenMatches(token, hashToken(rotated))).toBe(false);
    expect(tokenMatches(`${token}x`, hashToken(token))).toBe(false);
  });

  it('match nothing when the account has no live token (unknown account, revoked)', () => {
    const token = newAccountToken('acme');
    expect(tokenMatches(token, undefined)).toBe(false);
    // The placeholder compared with when there is no hash is no token's hash either.
    expect(tokenMatches(token, '0'.repeat(64))).toBe(false);
  });

  it('are never the admin token, which is compared whole', () => {
    expect(isAdminToken('admin-secret', 'admin-secret')).toBe(true);
    expect(isAdminToken('admin-secre', 'admin-secret')).toBe(false);
    expect(isAdminToken('', 'admin-secret')).toBe(false);
    expect(isAdminToken(newAccountToken('acme'), 'admin-secret')).toBe(false);
  });
});
