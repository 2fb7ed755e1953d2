import type { EventStore, Subscription } from '@pgfleet/eventstore';
import {
  ACCOUNT_ACCESS_EVENT_TYPES,
  type AccountAccess,
  evolveAccountAccess,
  initialAccountAccess,
  isAccountAccessEvent,
} from '../domain/accountAccess.js';
import { accountOfToken, tokenMatches } from './accountTokens.js';

/** How long an account token's check waits for the directory to reach what was committed before it. */
const CAUGHT_UP_TIMEOUT_MS = 30_000;

/**
 * The accounts and the hashes of their tokens, folded in memory from the `tokens-*` streams by one
 * subscription (`durable: false`: rebuilt at every start, like the cluster list). A token is
 * checked once the directory has caught up with every event committed before the request, so a
 * rotated or revoked token stops working at once, whichever API process recorded the change.
 */
export class AccountDirectory {
  private readonly accounts = new Map<string, AccountAccess>();
  private subscription: Subscription | undefined;

  constructor(private readonly store: EventStore) {}

  async start(): Promise<void> {
    const subscription = this.store.subscribe({
      subscriberId: 'api-account-directory',
      durable: false,
      types: ACCOUNT_ACCESS_EVENT_TYPES,
      handler: (e) => {
        if (!isAccountAccessEvent(e)) return;
        const before = this.accounts.get(e.data.accountId) ?? initialAccountAccess;
        this.accounts.set(e.data.accountId, evolveAccountAccess(before, e));
      },
    });
    this.subscription = subscription;
    try {
      await subscription.caughtUp();
    } catch (error) {
      await subscription.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }

  /** The account whose live token `token` is, or undefined (not an account token, unknown, rotated, revoked). */
  async accountOf(token: string): Promise<string | undefined> {
    const accountId = accountOfToken(token);
    if (accountId === undefined || !this.subscription) return undefined;
    await withTimeout(this.subscription.caughtUp(), CAUGHT_UP_TIMEOUT_MS);
    return tokenMatches(token, this.accounts.get(accountId)?.tokenHash) ? accountId : undefined;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the account directory did not catch up in ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
