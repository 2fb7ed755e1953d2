import type { DomainEvent, Rejection } from '@pgfleet/contracts';
import { expect } from 'vitest';
import type { Decider } from '../decider.js';

export interface WhenStep<E extends DomainEvent> {
  /** Assert the command is accepted with exactly these events (returns them). */
  then(expected: E[]): E[];
  /** Assert the command is rejected with this code (and, if given, a message matching). Returns the rejection. */
  thenRejects(code: string, message?: string | RegExp): Rejection;
}

export interface GivenStep<Command, E extends DomainEvent> {
  when(command: Command): WhenStep<E>;
}

export interface DeciderSpec<Command, E extends DomainEvent> {
  given(events: E[]): GivenStep<Command, E>;
}

/**
 * Given/when/then for a pure decider:
 * `deciderSpec(backups).given([requested]).when(request).then([evicted, requested2])`
 * or `.thenRejects('QUOTA_EXCEEDED')`. Accepted events are also folded through `evolve`, so a
 * missing case there fails the test too.
 */
export function deciderSpec<State, Command, E extends DomainEvent>(decider: Decider<State, Command, E>): DeciderSpec<Command, E> {
  return {
    given: (events) => ({
      when: (command) => {
        const decide = () => decider.decide(command, events.reduce((s, e) => decider.evolve(s, e), decider.initialState));
        return {
          then(expected) {
            const decision = decide();
            if (!decision.ok) expect.fail(`expected events but the command was rejected: ${decision.rejection.code}: ${decision.rejection.message}`);
            expect(decision.events).toEqual(expected);
            [...events, ...decision.events].reduce((s, e) => decider.evolve(s, e), decider.initialState);
            return decision.events;
          },
          thenRejects(code, message) {
            const decision = decide();
            if (decision.ok) expect.fail(`expected rejection ${code} but the command was accepted with ${JSON.stringify(decision.events.map((e) => e.type))}`);
            expect(decision.rejection.code).toBe(code);
            if (typeof message === 'string') expect(decision.rejection.message).toBe(message);
            else if (message) expect(decision.rejection.message).toMatch(message);
            return decision.rejection;
          },
        };
      },
    }),
  };
}
