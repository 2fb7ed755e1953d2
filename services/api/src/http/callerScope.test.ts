import { describe, expect, it } from 'vitest';
import { actorOf, adminOnly, type Caller, canSee, scopeAccount, scopedAccountOf } from './callerScope.js';

const admin: Caller = { kind: 'admin' };
const acme: Caller = { kind: 'account', accountId: 'acme' };

describe('what a caller may act on', () => {
  it('the admin acts on the account it names, else the default account', () => {
    expect(scopeAccount(admin, undefined)).toEqual({ ok: true, accountId: 'default' });
    expect(scopeAccount(admin, 'acme')).toEqual({ ok: true, accountId: 'acme' });
  });

  it('an account token acts on its own account, named or not', () => {
    expect(scopeAccount(acme, undefined)).toEqual({ ok: true, accountId: 'acme' });
    expect(scopeAccount(acme, 'acme')).toEqual({ ok: true, accountId: 'acme' });
  });

  it('an account token naming another account is refused, the same way whether that account exists or not', () => {
    const other = scopeAccount(acme, 'globex');
    expect(other).toEqual({
      ok: false,
      rejection: {
        code: 'ACCOUNT_FORBIDDEN',
        message: 'this token acts on account acme only, not on globex',
        details: { field: 'accountId' },
      },
    });
    expect(scopeAccount(acme, 'default')).toMatchObject({ ok: false, rejection: { code: 'ACCOUNT_FORBIDDEN' } });
  });

  it("sees another account's things only as the admin", () => {
    expect(canSee(admin, 'acme')).toBe(true);
    expect(canSee(acme, 'acme')).toBe(true);
    expect(canSee(acme, 'globex')).toBe(false);
    expect(canSee(acme, 'default')).toBe(false);
  });

  it('records the caller as the actor, and the scoped account on commands', () => {
    expect(actorOf(admin)).toEqual({ kind: 'admin', id: 'admin' });
    expect(actorOf(acme)).toEqual({ kind: 'account', id: 'acme' });
    expect(scopedAccountOf(admin)).toEqual({});
    expect(scopedAccountOf(acme)).toEqual({ account: 'acme' });
  });

  it('manages accounts only with the admin token', () => {
    expect(adminOnly(admin)).toBeUndefined();
    expect(adminOnly(acme)).toMatchObject({ code: 'ADMIN_ONLY' });
  });
});
