import { foldClusterView, runtimeNodeId, streamIds, type ClusterView, type GatewaysState } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { OperationFailure, type CommandContext, type OperationRun } from '@pgfleet/kit';
import { TlsError } from '@pgfleet/postgres';
import { NodeRuntimeError, type NodeRuntime } from '@pgfleet/runtime';
import type { z } from 'zod';
import type { GatewaysCommand } from '../domain/gateways.js';
import { loadGateways, recordGateways } from '../workers/recordGateways.js';

/**
 * The building blocks of networking operations: what an operation acts on, its parameters, the
 * check that its nodes run, node steps whose refusals end the operation, and its outcome
 * recorded through the gateways decider.
 */

/** The cluster and its gateways as an operation finds them, and the metadata of what it records. */
export interface OperationTarget {
  cluster: ClusterView;
  gateways: GatewaysState;
  /** Gateway events of the operation: correlated by the operation id, caused by its OperationRequested. */
  meta: CommandContext;
}

export async function loadTarget(store: EventStore, run: OperationRun): Promise<OperationTarget> {
  const { operationId } = run.operation;
  const events = (await store.readStream(streamIds.cluster(run.clusterId))).events;
  const requested = events.find((e) => e.type === 'OperationRequested' && e.data.operationId === operationId);
  return {
    cluster: foldClusterView(events),
    gateways: await loadGateways(store, run.clusterId),
    meta: { correlationId: operationId, causationId: requested?.id ?? null },
  };
}

/** The operation's parameters, read with `schema`; parameters it cannot read end it at step `params`. */
export function parseParams<T>(schema: z.ZodType<T>, run: OperationRun): T {
  const parsed = schema.safeParse(run.operation.params);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? ` (${issue.path.join('.')})` : '';
  throw new OperationFailure('params', `the ${run.operation.kind} operation has invalid parameters${where}`);
}

/**
 * Before any node is touched: every node whose step is still to run must be running, so a
 * stopped node ends the operation at its step with the cluster as it was (no half-applied
 * change waiting for a node that may come back with another configuration). Done steps are skipped.
 */
export async function requireRunning(
  runtime: NodeRuntime,
  run: OperationRun,
  pending: readonly { nodeId: string; step: string }[],
): Promise<void> {
  for (const { nodeId, step } of pending) {
    if (run.done(step)) continue;
    const { state } = await runtime.status(runtimeNodeId(run.clusterId, nodeId));
    if (state === 'running') continue;
    throw new OperationFailure(
      step,
      `node ${nodeId} is ${state === 'missing' ? 'missing' : 'stopped'}: every node must run to take the change; ` +
        'request it again once the node is back',
    );
  }
}

/**
 * Run `fn` as step `name`: a refusal of the runtime (unknown or uninitialized node) or of the TLS
 * material (no CA) ends the operation there; other errors (lost infrastructure) leave it running,
 * to be resumed.
 */
export function nodeStep<T extends Record<string, unknown> | undefined>(
  run: OperationRun,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  return run.step(name, async () => {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof NodeRuntimeError || error instanceof TlsError)
        throw new OperationFailure(name, error.message);
      throw error;
    }
  });
}

/**
 * Record the operation's outcome on `gateway-{clusterId}` through the gateways decider (a repeat
 * records nothing). A refusal ends the operation at `step`; a stream that kept changing is retried later.
 */
export async function recordOutcome(
  store: EventStore,
  run: OperationRun,
  target: OperationTarget,
  command: GatewaysCommand,
  step = 'record',
): Promise<void> {
  const reply = await recordGateways(store, run.clusterId, command, target.meta);
  if (reply.ok) return;
  if (reply.code === 'CONCURRENCY_CONFLICT') throw new Error(reply.message);
  throw new OperationFailure(step, reply.message);
}
