import type { CommandData, CommandMeta, CommandReply } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import type { Bus, OperationExecutor } from '@pgfleet/kit';
import { openSecretStore } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import { requestRestoreToTime } from './requestRestore.js';
import { restoreToTimeOperation } from './restoreToTime.js';

/** Restore to a time, as the service wires it: the RestoreToTime handler and the `pitr-restore` executor. */
export function pitrRestore(d: { store: EventStore; runtime: NodeRuntime; nc: Bus; home: string }): {
  request: (data: CommandData<'pitr', 'RestoreToTime'>, meta: CommandMeta) => Promise<CommandReply>;
  executor: OperationExecutor;
} {
  const deps = { store: d.store, runtime: d.runtime, nc: d.nc, home: d.home, secrets: openSecretStore(d.home) };
  return {
    request: (data, meta) => requestRestoreToTime(deps, data, meta),
    executor: restoreToTimeOperation(deps),
  };
}
