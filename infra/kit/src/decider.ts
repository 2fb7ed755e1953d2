import type { DomainEvent, Rejection } from '@pgfleet/contracts';

/** What `decide` returns: the events to append, or a typed refusal (code, one sentence, details). */
export type Decision<E extends DomainEvent = DomainEvent> =
  | { ok: true; events: E[] }
  | { ok: false; rejection: Rejection };

/**
 * An aggregate's pure logic: state is a fold of its events with `evolve`; `decide` turns a
 * command and the current state into events or a rejection. No clock, I/O or randomness:
 * pass `now` and new ids inside the command.
 */
export interface Decider<State, Command, E extends DomainEvent = DomainEvent> {
  initialState: State;
  evolve(state: State, event: E): State;
  decide(command: Command, state: State): Decision<E>;
}

export const accept = <E extends DomainEvent>(...events: E[]): Decision<E> => ({ ok: true, events });

export const reject = (code: string, message: string, details?: Rejection['details']): Decision<never> => ({
  ok: false,
  rejection: details === undefined ? { code, message } : { code, message, details },
});
