import type { DomainEvent, Rejection } from '@pgfleet/contracts';
import { expect } from 'vitest';
import type { Decider } from '../decider.js';

/** The state a spec expects after the given and the decided events: a value (deep equality) or a check that throws. */
export type ExpectedState<State> = State | ((state: State) => void);

export interface WhenStep<E extends DomainEvent, State = unknown> {
  /**
   * Assert the command is accepted with exactly these events (returns them). The given and the decided events are
   * folded through `evolve`; with `expectedState`, the resulting state must equal it (or pass it, when it is a
   * function).
   */
  then(expected: E[], expectedState?: ExpectedState<State>): E[];
  /** Assert the command is rejected with this code (and, if given, a message matching). Returns the rejection. */
  thenRejects(code: string, message?: string | RegExp): Rejection;
}

export interface GivenStep<Command, E extends DomainEvent, State = unknown> {
  when(command: Command): WhenStep<E, State>;
}

export interface DeciderSpec<Command, E extends DomainEvent, State = unknown> {
  given(events: E[]): GivenStep<Command, E, State>;
}

/**
 * Given/when/then for a pure decider:
 * `deciderSpec(backups).given([requested]).when(request).then([evicted, requested2])`
 * or `.thenRejects('QUOTA_EXCEEDED')`. Accepted events are also folded through `evolve`, so a missing case there
 * fails the test too; `.then(events, expectedState)` checks the folded state as well, so a wrong `evolve` fails it:
 * `.then([requested2], { count: 2, ids: ['b1', 'b2'] })` or `.then([requested2], (s) => expect(s.count).toBe(2))`.
 */
export function deciderSpec<State, Command, E extends DomainEvent>(
  decider: Decider<State, Command, E>,
): DeciderSpec<Command, E, State> {
  const fold = (events: E[]) => events.reduce((s, e) => decider.evolve(s, e), decider.initialState);
  return {
    given: (events) => ({
      when: (command) => {
        const decide = () => decider.decide(command, fold(events));
        return {
          // biome-ignore lint/suspicious/noThenProperty: the spec reads given/when/then; a WhenStep is never awaited.
          then(expected, expectedState) {
            const decision = decide();
            if (!decision.ok) {
              const { code, message } = decision.rejection;
              expect.fail(`expected events but the command was rejected: ${code}: ${message}`);
            }
            expect(decision.events).toEqual(expected);
            const state = fold([...events, ...decision.events]);
            if (typeof expectedState === 'function') (expectedState as (state: State) => void)(state);
            else if (expectedState !== undefined) {
              expect(state, 'state folded from the given and the decided events').toEqual(expectedState);
            }
            return decision.events;
          },
          thenRejects(code, message) {
            const decision = decide();
            if (decision.ok) {
              const types = JSON.stringify(decision.events.map((e) => e.type));
              expect.fail(`expected rejection ${code} but the command was accepted with ${types}`);
            }
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
