import {
  preloadLibrariesWith,
  refusedExtension,
  runningOperation,
  type ClusterEvent,
  type ClusterView,
  type ParameterChange,
} from '@pgfleet/contracts';
import { accept, reject, type Decision } from '@pgfleet/kit';
import { startOperation, type OperationPlan } from './operations.js';
import { membersRunning } from './restart.js';

/**
 * Extensions of a cluster (`pgfleet extension enable|disable`): an allow-list (`EXTENSIONS` in
 * contracts), created and dropped by the platform in the app database as operations. An extension
 * whose library must be preloaded changes shared_preload_libraries like a `config set` does
 * (ClusterParametersChanged, rendered into every node's configuration, so every node made later
 * keeps it), applied with a rolling restart.
 */

export type ExtensionCommand =
  /** Enable `extension`, as operation `operationId` (kind 'extension-enable'). */
  | { type: 'EnableExtension'; operationId: string; extension: string }
  /** Disable `extension`, as operation `operationId` (kind 'extension-disable'). */
  | { type: 'DisableExtension'; operationId: string; extension: string }
  /** The worker created `extension` at `version` in the app database. */
  | { type: 'RecordExtensionEnabled'; extension: string; version: string }
  /** The worker dropped `extension` from the app database. */
  | { type: 'RecordExtensionDisabled'; extension: string };

/** The worker outcomes among them. */
export type ExtensionOutcome = Extract<
  ExtensionCommand,
  { type: 'RecordExtensionEnabled' | 'RecordExtensionDisabled' }
>;

const PRELOAD = 'shared_preload_libraries';

/** The change of shared_preload_libraries that loads (or unloads) `extension`'s library; none when it needs none. */
function preloadChanges(state: ClusterView, extension: string, add: boolean): ParameterChange[] {
  const old = state.parameters[PRELOAD] ?? null;
  const next = preloadLibrariesWith(old, extension, add);
  return next === old ? [] : [{ name: PRELOAD, old, new: next }];
}

const refused = (code: string, message: string, details: Record<string, unknown>): OperationPlan => ({
  ok: false,
  rejection: { code, message, details },
});

/** Off the allow-list, or the cluster cannot take an operation now: why, else undefined. */
function checked(state: ClusterView, extension: string, what: string): OperationPlan | undefined {
  const off = refusedExtension(extension);
  if (off) return { ok: false, rejection: off };
  return membersRunning(state, `its extensions cannot change now (${what} ${extension})`);
}

/**
 * Whether an extension may be enabled: on the allow-list, the cluster ready, not enabled yet (a
 * second enable is refused EXTENSION_ALREADY_ENABLED, nothing recorded). OperationRequested
 * {extension, changes} with, for an extension to preload, ClusterParametersChanged in one append. Pure.
 */
function decideEnable(cmd: Extract<ExtensionCommand, { type: 'EnableExtension' }>, state: ClusterView) {
  const { extension } = cmd;
  return startOperation(state, { operationId: cmd.operationId, kind: 'extension-enable' }, () => {
    const no = checked(state, extension, 'enable');
    if (no) return no;
    const version = state.extensions[extension];
    if (version !== undefined) {
      const message = `${extension} is already enabled on cluster ${state.name} (version ${version}): nothing to do`;
      return refused('EXTENSION_ALREADY_ENABLED', message, { field: 'extension', rule: 'not_enabled', version });
    }
    const changes = preloadChanges(state, extension, true);
    const events: ClusterEvent[] = changes.length > 0 ? [{ type: 'ClusterParametersChanged', data: { changes } }] : [];
    return { ok: true, params: { extension, changes }, events };
  });
}

/** Whether an extension may be disabled: allow-listed, the cluster ready, enabled. OperationRequested {extension}. */
function decideDisable(cmd: Extract<ExtensionCommand, { type: 'DisableExtension' }>, state: ClusterView) {
  const { extension } = cmd;
  return startOperation(state, { operationId: cmd.operationId, kind: 'extension-disable' }, () => {
    const no = checked(state, extension, 'disable');
    if (no) return no;
    if (state.extensions[extension] === undefined) {
      const message = `${extension} is not enabled on cluster ${state.name}: nothing to disable`;
      return refused('EXTENSION_NOT_ENABLED', message, { field: 'extension', rule: 'enabled' });
    }
    return { ok: true, params: { extension }, events: [] };
  });
}

/** An outcome counts only while the operation of `kind` for `extension` runs. */
function whileRunning(
  state: ClusterView,
  kind: 'extension-enable' | 'extension-disable',
  extension: string,
  decision: () => Decision<ClusterEvent>,
): Decision<ClusterEvent> {
  const running = runningOperation(state.ops);
  if (running?.kind !== kind || running.params.extension !== extension) {
    const message = `cluster ${state.name} has no ${kind} of ${extension} in progress`;
    return reject('CONFLICT', message, { field: 'extension' });
  }
  return decision();
}

/**
 * The extension commands of the cluster aggregate. Outcomes are idempotent: an extension already
 * recorded enabled at that version (or already disabled) records nothing. Disabling unloads a
 * preloaded library in the same append (ClusterParametersChanged); the worker then restarts. Pure.
 */
export function decideExtension(command: ExtensionCommand, state: ClusterView): Decision<ClusterEvent> {
  switch (command.type) {
    case 'EnableExtension':
      return decideEnable(command, state);
    case 'DisableExtension':
      return decideDisable(command, state);
    case 'RecordExtensionEnabled': {
      const { extension, version } = command;
      if (state.extensions[extension] === version) return accept();
      return whileRunning(state, 'extension-enable', extension, () =>
        accept({ type: 'ExtensionEnabled', data: { extension, version } }),
      );
    }
    case 'RecordExtensionDisabled': {
      const { extension } = command;
      if (state.extensions[extension] === undefined) return accept();
      return whileRunning(state, 'extension-disable', extension, () => {
        const changes = preloadChanges(state, extension, false);
        return accept<ClusterEvent>(
          { type: 'ExtensionDisabled', data: { extension } },
          ...(changes.length > 0 ? [{ type: 'ClusterParametersChanged' as const, data: { changes } }] : []),
        );
      });
    }
    default: {
      const never: never = command;
      return never;
    }
  }
}
