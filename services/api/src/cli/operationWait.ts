import type { NatsConnection } from '@nats-io/transport-node';
import type { EventEnvelope } from '@pgfleet/contracts';
import { type ApiClient, CliError } from './client.js';
import { closeUnused, connectForEvents, eventLine, followEvents, requestTime, streamSubject } from './followEvents.js';

/** What the API answers to a long action: 202 with the operation, or (older services) 200 with the result. */
export interface Accepted {
  ok: true;
  streamId: string;
  version: number;
  operationId?: string;
  kind?: string;
  result?: Record<string, unknown>;
  clusterId?: string;
  [extra: string]: unknown;
}

/** How an operation ended, as its events told it. */
export interface OperationEnd {
  operationId: string;
  kind: string;
  status: 'succeeded' | 'failed';
  steps: { step: string; at: string }[];
  result: Record<string, unknown>;
  error?: { step: string; reason: string };
}

/** What to wait for after the operation succeeded (the gateways to forward to the new leader...). */
export interface Settle {
  /** Sees every event (of the followed streams) from the operation's request on. */
  observe(event: EventEnvelope): void;
  settled(end: OperationEnd): boolean;
  /** How long to wait for it once the operation ended; then `onTimeout` decides. */
  timeoutMs: number;
  onTimeout?(end: OperationEnd): void;
}

/** The sentence for an operation that goes on without the CLI watching. */
const goesOn = (operationId: string, kind: string) =>
  `operation ${operationId} (${kind}) goes on without waiting; follow it with "pgfleet operation show ${operationId}"`;

/**
 * Wait for an operation to end by following its cluster stream (and `extraStreams`) on NATS from
 * `since`, printing each step as it completes (stderr, unless `quiet`); then, if it succeeded,
 * for `settle`. A failed operation is an error naming its step and reason.
 */
async function followOperation(
  api: ApiClient,
  op: { operationId: string; kind: string; streamId: string; since: Date; quiet: boolean; name: string },
  extraStreams: string[] = [],
  settle?: Settle,
  connection?: Promise<NatsConnection>,
): Promise<OperationEnd> {
  // The events stream sequence of the operation's first event: earlier events (of the margin
  // before the request) are not about it. Events of other streams may arrive before it.
  let startSeq: number | undefined;
  const early: { e: EventEnvelope; seq: number }[] = [];
  let end: OperationEnd | undefined;
  const steps: OperationEnd['steps'] = [];
  const stop = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const mine = (e: EventEnvelope) => (e.data as { operationId?: unknown }).operationId === op.operationId;
  const isOperationEvent = (e: EventEnvelope) => e.type.startsWith('Operation');
  /** One event of (or after the start of) the operation: print, observe, and say whether the wait is over. */
  const handle = (e: EventEnvelope): boolean => {
    if (!op.quiet && (mine(e) || !isOperationEvent(e))) process.stderr.write(`${eventLine(e)}\n`);
    settle?.observe(e);
    if (mine(e)) {
      const { operationId, kind } = op;
      if (e.type === 'OperationStepCompleted') steps.push({ step: e.data.step, at: e.occurredAt });
      if (e.type === 'OperationSucceeded') {
        end = { operationId, kind, status: 'succeeded', steps, result: e.data.result ?? {} };
      }
      if (e.type === 'OperationFailed') {
        const error = { step: e.data.step, reason: e.data.reason };
        end = { operationId, kind, status: 'failed', steps, result: {}, error };
      }
    }
    if (!end) return false;
    if (end.status === 'failed' || !settle || settle.settled(end)) return true;
    timer ??= setTimeout(() => stop.abort(), settle.timeoutMs);
    return false;
  };
  try {
    await followEvents(api, {
      subjects: [op.streamId, ...extraStreams].map(streamSubject),
      since: op.since,
      goesOn: goesOn(op.operationId, op.kind),
      signal: stop.signal,
      ...(connection ? { connection } : {}),
      onEvent: (e, seq) => {
        if (startSeq === undefined) {
          if (!mine(e)) {
            early.push({ e, seq });
            return false;
          }
          startSeq = seq;
          const after = early.filter((x) => x.seq > seq).sort((a, b) => a.seq - b.seq);
          early.length = 0;
          return [{ e, seq }, ...after].map((x) => handle(x.e)).some(Boolean);
        }
        return seq > startSeq && handle(e);
      },
    });
  } finally {
    clearTimeout(timer);
  }
  if (!end) throw new CliError(`stopped following before the end; ${goesOn(op.operationId, op.kind)}`, 'INTERNAL');
  if (end.error) {
    const { step, reason } = end.error;
    const message = `${op.kind} of ${op.name} failed at step ${step}: ${reason} (operation ${op.operationId})`;
    throw new CliError(message, 'OPERATION_FAILED', { operationId: op.operationId, step, reason });
  }
  if (settle && !settle.settled(end)) settle.onTimeout?.(end);
  return end;
}

export interface LongAction {
  method: string;
  path: string;
  body?: unknown;
  /** The cluster's name, for messages. */
  name: string;
  wait: boolean;
  json: boolean;
}

/**
 * Send a long action and, unless `--no-wait`, follow its operation to the end. `old` is the
 * service's final answer when it did not start an operation (then there is nothing to follow).
 */
export async function runLongAction(
  api: ApiClient,
  action: LongAction,
  follow: { extraStreams?: (accepted: Accepted) => string[]; settle?: (accepted: Accepted) => Settle } = {},
): Promise<{ accepted: Accepted; end?: OperationEnd }> {
  const since = requestTime();
  // NATS is reached while the request is in flight: the operation is followed as soon as it is accepted.
  const connection = action.wait ? connectForEvents(api) : undefined;
  const accepted = await api.call<Accepted>(action.method, action.path, action.body).catch((error: unknown) => {
    void closeUnused(connection);
    throw error;
  });
  const { operationId, kind } = accepted;
  if (!operationId || !kind || !connection) {
    await closeUnused(connection);
    return { accepted };
  }
  const op = { operationId, kind, streamId: accepted.streamId, since, quiet: action.json, name: action.name };
  const extra = follow.extraStreams?.(accepted) ?? [];
  const end = await followOperation(api, op, extra, follow.settle?.(accepted), connection);
  return { accepted, end };
}

/** `--no-wait` on an operation: its id and how to follow it. */
export const startedLine = (accepted: Accepted, name: string) =>
  `operation ${accepted.operationId} (${accepted.kind}) started on ${name}; ` +
  `follow it with "pgfleet operation show ${accepted.operationId}"`;

/**
 * Follow one cluster's stream until `done` says so (true) or throws, printing each event (stderr,
 * unless `quiet`); `timeoutMs` later it is a TIMEOUT error saying what it is still waiting for.
 */
export async function followCluster(
  api: ApiClient,
  w: { clusterId: string; since: Date; quiet: boolean; timeoutMs: number; waitingFor: string; goesOn: string },
  done: (e: EventEnvelope) => boolean,
): Promise<void> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), w.timeoutMs);
  try {
    const outcome = await followEvents(api, {
      subjects: [streamSubject(`cluster-${w.clusterId}`)],
      since: w.since,
      goesOn: w.goesOn,
      signal: stop.signal,
      onEvent: (e) => {
        if (!w.quiet) process.stderr.write(`${eventLine(e)}\n`);
        return done(e);
      },
    });
    if (outcome === 'aborted') {
      throw new CliError(`${w.waitingFor} after ${w.timeoutMs / 1000} s; ${w.goesOn}`, 'TIMEOUT');
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a long action answers once done, in the shape it always had: the accepted reply with the
 * operation's `result` (which carries the fields the action used to answer with) and its steps.
 */
export const finalReply = (accepted: Accepted, end: OperationEnd | undefined): Accepted =>
  end ? { ...accepted, result: end.result, steps: end.steps } : accepted;

export const NO_WAIT_HELP = 'print the operation id and return; the operation goes on';
