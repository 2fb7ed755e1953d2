import { type Actor, type Rejection, streamIds } from '@pgfleet/contracts';
import { type EventStore, WrongExpectedVersion } from '@pgfleet/eventstore';
import {
  type AccountAccessCommand,
  decideAccountAccess,
  evolveAccountAccess,
  initialAccountAccess,
  isAccountAccessEvent,
} from '../domain/accountAccess.js';

/** Attempts when another request changed the account between the read and the append. */
const MAX_ATTEMPTS = 3;

export type Recorded = { ok: true; version: number; recorded: number } | { ok: false; rejection: Rejection };

/**
 * Decide an admin's command on `tokens-{accountId}`: fold the stream, decide, append with the
 * version read as expected version (two `account create` of one name: one wins, the other is
 * ACCOUNT_EXISTS). `recorded` is the number of events appended (0: nothing to change).
 */
export async function recordAccountAccess(
  store: EventStore,
  command: AccountAccessCommand,
  meta: { actor: Actor; correlationId: string },
): Promise<Recorded> {
  const streamId = streamIds.tokens(command.accountId);
  for (let attempt = 1; ; attempt++) {
    const { events, currentVersion } = await store.readStream(streamId);
    const state = events.filter(isAccountAccessEvent).reduce(evolveAccountAccess, initialAccountAccess);
    const decision = decideAccountAccess(command, state);
    if (!decision.ok) return decision;
    if (decision.events.length === 0) return { ok: true, version: currentVersion, recorded: 0 };
    const expectedVersion = currentVersion === 0 ? 'no_stream' : currentVersion;
    try {
      const appended = await store.appendToStream(
        streamId,
        decision.events.map((e) => ({ ...e, ...meta })),
        { expectedVersion },
      );
      return { ok: true, version: appended.nextExpectedVersion, recorded: decision.events.length };
    } catch (error) {
      const conflict =
        error instanceof WrongExpectedVersion ||
        (error as { code?: unknown } | null)?.code === 'WRONG_EXPECTED_VERSION';
      if (!conflict) throw error;
      if (attempt >= MAX_ATTEMPTS) {
        const message = `account ${command.accountId} kept changing while this was decided; try again`;
        return { ok: false, rejection: { code: 'CONFLICT', message, details: { field: 'name' } } };
      }
    }
  }
}
