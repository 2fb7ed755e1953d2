import type { OperationKind } from '../events/operation.js';
import type { EventOfType, Rejection } from '../index.js';

/**
 * Operations as the cluster stream tells them, and the pure decisions every service uses to
 * start, advance and end one (the cluster stream has one writer shape: decide, then append with
 * the expected version).
 */

export type OperationEvent = EventOfType<
  'OperationRequested' | 'OperationStepCompleted' | 'OperationSucceeded' | 'OperationFailed' | 'HandlingFailed'
>;

export type OperationStatus = 'running' | 'succeeded' | 'failed';

export interface OperationStep {
  step: string;
  at?: string;
  detail?: Record<string, unknown>;
}

export interface Operation {
  operationId: string;
  kind: OperationKind;
  params: Record<string, unknown>;
  status: OperationStatus;
  requestedAt?: string;
  finishedAt?: string;
  steps: OperationStep[];
  result?: Record<string, unknown>;
  /** Where and why it failed. */
  failedStep?: string;
  error?: string;
}

export interface HandlingFailure {
  consumer: string;
  eventId: string;
  eventType: string;
  error: string;
  at?: string;
}

export interface OperationsState {
  /** Every operation of the cluster, oldest first. */
  operations: Operation[];
  /** The operation in progress, if any: at most one per cluster. */
  running?: string;
  handlingFailures: HandlingFailure[];
}

export const initialOperationsState = (): OperationsState => ({ operations: [], handlingFailures: [] });

export function evolveOperations(state: OperationsState, event: OperationEvent, at?: string): OperationsState {
  const patch = (operationId: string, p: (o: Operation) => Partial<Operation>): Operation[] =>
    state.operations.map((o) => (o.operationId === operationId ? { ...o, ...p(o) } : o));
  switch (event.type) {
    case 'OperationRequested': {
      const d = event.data;
      if (state.operations.some((o) => o.operationId === d.operationId)) return state;
      const op: Operation = {
        operationId: d.operationId,
        kind: d.kind,
        params: d.params,
        status: 'running',
        steps: [],
        ...(at ? { requestedAt: at } : {}),
      };
      return { ...state, operations: [...state.operations, op], running: d.operationId };
    }
    case 'OperationStepCompleted': {
      const d = event.data;
      const step: OperationStep = { step: d.step, ...(at ? { at } : {}), ...(d.detail ? { detail: d.detail } : {}) };
      return { ...state, operations: patch(d.operationId, (o) => ({ steps: [...o.steps, step] })) };
    }
    case 'OperationSucceeded': {
      const d = event.data;
      const operations = patch(d.operationId, () => ({
        status: 'succeeded',
        ...(at ? { finishedAt: at } : {}),
        ...(d.result ? { result: d.result } : {}),
      }));
      return { ...state, operations, running: state.running === d.operationId ? undefined : state.running };
    }
    case 'OperationFailed': {
      const d = event.data;
      const operations = patch(d.operationId, () => ({
        status: 'failed',
        failedStep: d.step,
        error: d.reason,
        ...(at ? { finishedAt: at } : {}),
      }));
      return { ...state, operations, running: state.running === d.operationId ? undefined : state.running };
    }
    case 'HandlingFailed': {
      const failure: HandlingFailure = { ...event.data, ...(at ? { at } : {}) };
      return { ...state, handlingFailures: [...state.handlingFailures, failure] };
    }
    default: {
      const never: never = event;
      return never;
    }
  }
}

export const findOperation = (state: OperationsState, operationId: string): Operation | undefined =>
  state.operations.find((o) => o.operationId === operationId);

export const runningOperation = (state: OperationsState): Operation | undefined =>
  state.running === undefined ? undefined : findOperation(state, state.running);

export const stepDone = (op: Operation, step: string): boolean => op.steps.some((s) => s.step === step);

/** Commands on the operation part of a cluster stream (any service may send them through its own loop). */
export type OperationCommand =
  | { type: 'RequestOperation'; operationId: string; kind: OperationKind; params: Record<string, unknown> }
  | { type: 'CompleteOperationStep'; operationId: string; step: string; detail?: Record<string, unknown> }
  | { type: 'SucceedOperation'; operationId: string; result?: Record<string, unknown> }
  | { type: 'FailOperation'; operationId: string; step: string; reason: string }
  | { type: 'RecordHandlingFailed'; consumer: string; eventId: string; eventType: string; error: string };

export type OperationDecision = { ok: true; events: OperationEvent[] } | { ok: false; rejection: Rejection };

const ok = (...events: OperationEvent[]): OperationDecision => ({ ok: true, events });

/**
 * Pure: at most one operation runs per cluster (`OPERATION_IN_PROGRESS` names the running one);
 * the same operation id twice is done once; steps and endings of an operation that is not
 * running record nothing (a stale or resumed executor repeats harmlessly).
 */
export function decideOperation(command: OperationCommand, state: OperationsState): OperationDecision {
  switch (command.type) {
    case 'RequestOperation': {
      const existing = findOperation(state, command.operationId);
      if (existing && existing.kind !== command.kind) {
        return {
          ok: false,
          rejection: {
            code: 'IDEMPOTENCY_KEY_REUSED',
            message: `operation ${existing.operationId} is a ${existing.kind}, not a ${command.kind}: use a new key`,
            details: { operationId: existing.operationId, kind: existing.kind },
          },
        };
      }
      if (existing) return ok();
      const running = runningOperation(state);
      if (running) {
        return {
          ok: false,
          rejection: {
            code: 'OPERATION_IN_PROGRESS',
            message:
              `operation ${running.operationId} (${running.kind}) is in progress on this cluster; ` +
              'try again when it ends',
            details: { operationId: running.operationId, kind: running.kind },
          },
        };
      }
      const { operationId, kind, params } = command;
      return ok({ type: 'OperationRequested', data: { operationId, kind, params } });
    }
    case 'CompleteOperationStep': {
      const op = findOperation(state, command.operationId);
      if (op?.status !== 'running' || stepDone(op, command.step)) return ok();
      const { operationId, step, detail } = command;
      return ok({ type: 'OperationStepCompleted', data: { operationId, step, ...(detail ? { detail } : {}) } });
    }
    case 'SucceedOperation': {
      const op = findOperation(state, command.operationId);
      if (op?.status !== 'running') return ok();
      const { operationId, result } = command;
      return ok({ type: 'OperationSucceeded', data: { operationId, ...(result ? { result } : {}) } });
    }
    case 'FailOperation': {
      const op = findOperation(state, command.operationId);
      if (op?.status !== 'running') return ok();
      const { operationId, step, reason } = command;
      return ok({ type: 'OperationFailed', data: { operationId, step, reason } });
    }
    case 'RecordHandlingFailed': {
      if (state.handlingFailures.some((f) => f.eventId === command.eventId && f.consumer === command.consumer))
        return ok();
      const { consumer, eventId, eventType, error } = command;
      return ok({ type: 'HandlingFailed', data: { consumer, eventId, eventType, error } });
    }
    default: {
      const never: never = command;
      return never;
    }
  }
}
