import {
  type ClusterEvent,
  type ClusterView,
  type CommandMeta,
  type CommandReply,
  decideClusterOperation,
  evolveClusterView,
  findOperation,
  initialClusterView,
  isClusterEvent,
  type Operation,
  type OperationCommand,
  type OperationKind,
  streamIds,
  uuidv7,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand } from './commandHandler.js';
import type { Logger } from './logger.js';

/**
 * Operations: a long action on a cluster (switchover, restore, TLS change...) as a process with
 * an id. `requestOperation` appends OperationRequested to the cluster stream with the expected
 * version (one at a time per cluster); the owning service's `executeOperation` runs its steps,
 * recording each as it completes, and ends it. A restarted service runs it again: completed
 * steps are skipped, so every step must be idempotent.
 */

/** An operation step that cannot succeed: the operation ends OperationFailed {step, reason}. */
export class OperationFailure extends Error {
  constructor(
    readonly step: string,
    readonly reason: string,
  ) {
    super(`${step}: ${reason}`);
    this.name = 'OperationFailure';
  }
}

/** What an executor gets: the operation and a way to run its steps once each. */
export interface OperationRun {
  clusterId: string;
  operation: Operation;
  log: Logger;
  /**
   * Run `fn` as step `name` unless it already completed (then its recorded detail is returned);
   * record it with the detail `fn` returns. A throw becomes OperationFailed at this step when it
   * is an OperationFailure, else it is left to the caller (lost infrastructure: retry later).
   */
  step<T extends Record<string, unknown> | undefined>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Has this step completed (in this run or an earlier one)? */
  done(name: string): boolean;
}

export type OperationExecutor = (run: OperationRun) => Promise<Record<string, unknown> | undefined>;

export type OperationExecutors = Partial<Record<OperationKind, OperationExecutor>>;

const OPERATIONS_ACTOR = { kind: 'system' as const, id: 'operations' };

/** Decide an operation command on the cluster stream and append it (expected version, retried on conflict). */
export function recordOperation(
  store: EventStore,
  clusterId: string,
  command: OperationCommand,
  meta: CommandMeta & { causationId?: string | null } = {},
): Promise<CommandReply> {
  return handleCommand<ClusterView, OperationCommand, ClusterEvent>({
    store,
    streamId: streamIds.cluster(clusterId),
    initialState: initialClusterView(),
    evolve: evolveClusterView,
    decide: (c, s) => decideClusterOperation(c, s),
    command,
    meta: { actor: meta.actor ?? OPERATIONS_ACTOR, ...meta },
  });
}

/**
 * Ask for an operation: accepted replies carry `result: { operationId, kind }`; a cluster with
 * an operation in progress answers OPERATION_IN_PROGRESS naming it. The same `commandId` asks for
 * the same operation (its id is derived from it), so a retried request starts nothing twice.
 */
export async function requestOperation(
  store: EventStore,
  clusterId: string,
  request: { kind: OperationKind; params: Record<string, unknown>; operationId?: string },
  meta: CommandMeta = {},
): Promise<CommandReply> {
  const operationId = request.operationId ?? operationIdFor(meta.commandId);
  const reply = await recordOperation(
    store,
    clusterId,
    { type: 'RequestOperation', operationId, kind: request.kind, params: request.params },
    meta,
  );
  return reply.ok ? { ...reply, result: { operationId, kind: request.kind } } : reply;
}

/** An operation id: a new UUIDv7, or one derived from the client's command id (same id, same operation). */
export function operationIdFor(commandId?: string): string {
  if (!commandId) return uuidv7();
  return `op-${commandId.replace(/[^A-Za-z0-9_-]/g, '_')}`.slice(0, 64);
}

/** Read the cluster's view: the operation's state and the cluster's. */
export async function loadOperation(
  store: EventStore,
  clusterId: string,
  operationId: string,
): Promise<Operation | undefined> {
  const { events } = await store.readStream(streamIds.cluster(clusterId));
  let view = initialClusterView();
  for (const e of events) if (isClusterEvent(e)) view = evolveClusterView(view, e);
  return findOperation(view.ops, operationId);
}

/**
 * Run (or resume) one operation to its end: each step once, then OperationSucceeded with the
 * executor's result, or OperationFailed {step, reason} on an OperationFailure. Returns how it
 * ended; 'skipped' when it was not running (already ended, or unknown). Other errors are thrown
 * (nothing is recorded): the operation stays running and is resumed by the next attempt. So is a
 * failure while `stopping()` says the service stops.
 */
export async function executeOperation(
  deps: {
    store: EventStore;
    log: Logger;
    stopping?: () => boolean;
    /** One executor per operation across replicas: a run that cannot take it is 'skipped'. */
    tryLock?: (key: string) => Promise<(() => Promise<void>) | undefined>;
  },
  clusterId: string,
  operationId: string,
  executor: OperationExecutor,
): Promise<'succeeded' | 'failed' | 'skipped'> {
  const release = deps.tryLock ? await deps.tryLock(`pgfleet-operation:${operationId}`) : async () => undefined;
  if (!release) return 'skipped'; // another replica runs it; whoever finds it free later resumes it
  try {
    return await runOperation(deps, clusterId, operationId, executor);
  } finally {
    await release();
  }
}

async function runOperation(
  deps: { store: EventStore; log: Logger; stopping?: () => boolean },
  clusterId: string,
  operationId: string,
  executor: OperationExecutor,
): Promise<'succeeded' | 'failed' | 'skipped'> {
  const operation = await loadOperation(deps.store, clusterId, operationId);
  if (operation?.status !== 'running') return 'skipped';
  const log = deps.log.child({ clusterId, operationId, kind: operation.kind });
  const completed = new Map(operation.steps.map((s) => [s.step, s.detail]));
  const meta = { correlationId: operationId, actor: { kind: 'service' as const, id: `operation:${operation.kind}` } };
  const run: OperationRun = {
    clusterId,
    operation,
    log,
    done: (name) => completed.has(name),
    async step(name, fn) {
      if (completed.has(name)) return completed.get(name) as never;
      const started = performance.now();
      const detail = await fn();
      const done = performance.now();
      const reply = await recordOperation(
        deps.store,
        clusterId,
        { type: 'CompleteOperationStep', operationId, step: name, ...(detail ? { detail } : {}) },
        meta,
      );
      if (!reply.ok) throw new Error(`step ${name} could not be recorded: ${reply.message}`);
      completed.set(name, detail);
      const ms = Math.round(done - started);
      log.info({ step: name, ms, recordMs: Math.round(performance.now() - done) }, 'operation step completed');
      return detail;
    },
  };
  try {
    const result = await executor(run);
    await recordOperation(
      deps.store,
      clusterId,
      { type: 'SucceedOperation', operationId, ...(result ? { result } : {}) },
      meta,
    );
    log.info('operation succeeded');
    return 'succeeded';
  } catch (error) {
    if (!(error instanceof OperationFailure)) throw error;
    // A step that failed while this service stops may have failed because of the stop (a signal
    // reached a tool, a connection was closed): leave the operation running, resumed at the next start.
    if (deps.stopping?.()) throw new Error(`step ${error.step} failed while stopping: ${error.reason}`);
    await recordOperation(
      deps.store,
      clusterId,
      { type: 'FailOperation', operationId, step: error.step, reason: error.reason },
      meta,
    );
    log.warn({ step: error.step, reason: error.reason }, 'operation failed');
    return 'failed';
  }
}
