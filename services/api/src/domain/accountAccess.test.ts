import { describe, expect, it } from 'vitest';
import {
  type AccountAccessCommand,
  type AccountAccessEvent,
  decideAccountAccess,
  evolveAccountAccess,
  initialAccountAccess,
} from './accountAccess.js';

const H1 = '1'.repeat(64);
const H2 = '2'.repeat(64);
const created: AccountAccessEvent = { type: 'AccountCreated', data: { accountId: 'acme', tokenHash: H1 } };
const rotated: AccountAccessEvent = { type: 'AccountTokenRotated', data: { accountId: 'acme', tokenHash: H2 } };
const revoked: AccountAccessEvent = { type: 'AccountTokenRevoked', data: { accountId: 'acme' } };

/** Given these past events, when this command: the decision. */
const given = (events: AccountAccessEvent[]) => ({
  when: (command: AccountAccessCommand) =>
    decideAccountAccess(command, events.reduce(evolveAccountAccess, initialAccountAccess)),
});

describe('account access (the tokens-{accountId} stream)', () => {
  it('creates an account once, with the hash of its token', () => {
    expect(given([]).when({ type: 'CreateAccount', accountId: 'acme', tokenHash: H1 })).toEqual({
      ok: true,
      events: [created],
    });
    const again = given([created]).when({ type: 'CreateAccount', accountId: 'acme', tokenHash: H2 });
    expect(again).toMatchObject({ ok: false, rejection: { code: 'ACCOUNT_EXISTS', details: { field: 'name' } } });
  });

  it('rotates the token: the new hash replaces the old one', () => {
    const decision = given([created]).when({ type: 'RotateAccountToken', accountId: 'acme', tokenHash: H2 });
    expect(decision).toEqual({ ok: true, events: [rotated] });
    expect([created, rotated].reduce(evolveAccountAccess, initialAccountAccess)).toEqual({
      status: 'active',
      tokenHash: H2,
    });
  });

  it('revokes the token: no hash is left to match; revoking again records nothing', () => {
    expect(given([created]).when({ type: 'RevokeAccountToken', accountId: 'acme' })).toEqual({
      ok: true,
      events: [revoked],
    });
    expect([created, revoked].reduce(evolveAccountAccess, initialAccountAccess)).toEqual({ status: 'revoked' });
    expect(given([created, revoked]).when({ type: 'RevokeAccountToken', accountId: 'acme' })).toEqual({
      ok: true,
      events: [],
    });
  });

  it('gives a revoked account a token again by rotating', () => {
    const decision = given([created, revoked]).when({ type: 'RotateAccountToken', accountId: 'acme', tokenHash: H2 });
    expect(decision).toEqual({ ok: true, events: [rotated] });
  });

  it('refuses to rotate or revoke the token of an account that does not exist', () => {
    for (const command of [
      { type: 'RotateAccountToken', accountId: 'acme', tokenHash: H2 },
      { type: 'RevokeAccountToken', accountId: 'acme' },
    ] as const) {
      expect(given([]).when(command)).toMatchObject({
        ok: false,
        rejection: { code: 'ACCOUNT_NOT_FOUND', message: 'no account named acme', details: { field: 'name' } },
      });
    }
  });
});
