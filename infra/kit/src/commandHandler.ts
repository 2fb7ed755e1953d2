import { uuidv7, type Actor, type CommandReply, type DomainEvent } from '@pgfleet/contracts';
import { InvalidEvent, WrongExpectedVersion, type EventStore } from '@pgfleet/eventstore';
import type { Decision } from './decider.js';

/** Who asked and why: copied onto every event the command produces. */
export interface CommandContext {
  correlationId?: string;
  /** The id of the message (command or event) that caused this one; defaults to `commandId`. */
  causationId?: string | null;
  actor?: Actor;
  commandId?: string;
}

export interface HandleCommandOptions<State, Command, E extends DomainEvent = DomainEvent> {
  store: EventStore;
  streamId: string;
  initialState: State;
  evolve(state: State, event: E): State;
  decide(command: Command, state: State): Decision<E>;
  command: Command;
  meta?: CommandContext;
  /** Retries after a version conflict (another writer appended in between); default 5. */
  maxRetries?: number;
}

export const DEFAULT_ACTOR: Actor = { kind: 'system', id: 'pgfleet' };

/**
 * The command-handling loop: load the stream, fold it with `evolve`, `decide`, append with the
 * version that was read as expected version; on a conflict start over (bounded). Returns the
 * reply to send: accepted (stream id, version) or rejected (code, message, details).
 * Errors other than a conflict or an invalid event (lost infrastructure) are thrown.
 */
export async function handleCommand<State, Command, E extends DomainEvent = DomainEvent>(
  options: HandleCommandOptions<State, Command, E>,
): Promise<CommandReply> {
  const { store, streamId, evolve, initialState, decide, command, meta = {}, maxRetries = 5 } = options;
  const correlationId = meta.correlationId ?? meta.commandId ?? uuidv7();
  const causationId = meta.causationId ?? meta.commandId ?? null;
  const actor = meta.actor ?? DEFAULT_ACTOR;

  for (let attempt = 0; ; attempt++) {
    const { events: history, currentVersion } = await store.readStream(streamId);
    const state = history.reduce((s, e) => evolve(s, e as unknown as E), initialState);
    const decision = decide(command, state);
    if (!decision.ok)
      return {
        ok: false,
        code: decision.rejection.code,
        message: decision.rejection.message,
        ...detailsOf(decision.rejection.details),
      };
    if (decision.events.length === 0) return { ok: true, streamId, version: currentVersion };

    const events = decision.events.map(
      (e) =>
        ({ type: e.type, data: e.data, correlationId, causationId, actor }) as DomainEvent & { correlationId: string },
    );
    try {
      const appended = await store.appendToStream(streamId, events, {
        expectedVersion: currentVersion === 0 ? 'no_stream' : currentVersion,
      });
      return { ok: true, streamId, version: appended.nextExpectedVersion };
    } catch (error) {
      if (isConflict(error)) {
        if (attempt < maxRetries) {
          await sleep(Math.floor(Math.random() * 5 * (attempt + 1)));
          continue;
        }
        return {
          ok: false,
          code: 'CONCURRENCY_CONFLICT',
          message:
            `stream ${streamId} kept changing while the command was decided ` + `(${attempt + 1} attempts); try again`,
          details: { streamId, attempts: attempt + 1 },
        };
      }
      if (error instanceof InvalidEvent || (error as { code?: unknown })?.code === 'INVALID_EVENT') {
        const e = error as InvalidEvent;
        return { ok: false, code: 'INVALID_EVENT', message: e.message, details: e.details };
      }
      throw error;
    }
  }
}

function isConflict(error: unknown): boolean {
  return (
    error instanceof WrongExpectedVersion || (error as { code?: unknown } | null)?.code === 'WRONG_EXPECTED_VERSION'
  );
}

function detailsOf(details: Record<string, unknown> | undefined): { details?: Record<string, unknown> } {
  return details === undefined ? {} : { details };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
