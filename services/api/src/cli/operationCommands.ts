import type { Command } from 'commander';
import type { OperationShown } from '../http/operationRoutes.js';
import { apiClient } from './client.js';
import { table } from './format.js';

type Out = (human: string, json: unknown) => void;

const enc = encodeURIComponent;
const ended = (op: OperationShown) =>
  op.error ? `failed at step ${op.error.step}: ${op.error.reason}` : op.status === 'running' ? 'running' : op.status;

/** `pgfleet operation show ID`: kind, status, the steps with their times, the result or the error. */
function describe(op: OperationShown): string {
  const head =
    `operation ${op.operationId}: ${op.kind} on cluster ${op.cluster}, ${ended(op)}\n` +
    `requested ${op.requestedAt ?? '-'}, finished ${op.finishedAt ?? '-'}`;
  const steps =
    op.steps.length > 0
      ? table(
          ['STEP', 'DONE AT'],
          op.steps.map((s) => [s.step, s.at]),
        )
      : 'no step done yet';
  const result = op.result ? `\nresult: ${JSON.stringify(op.result)}` : '';
  return `${head}\n${steps}${result}`;
}

/** Operations: the long actions on a cluster (switchover, restore, TLS, delete...), their steps and outcome. */
export function registerOperationCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const operation = program
    .command('operation')
    .description('long actions on a cluster (switchover, restore, TLS, expose, delete...): list and show');

  operation
    .command('list <name>')
    .description("a cluster's operations, oldest first: id, kind, status, requested, finished")
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      type Listed = { operations: OperationShown[] };
      const r = await apiClient().call<Listed>('GET', `/v1/clusters/${enc(name)}/operations`);
      const rows = r.operations.map((op) => [
        op.operationId,
        op.kind,
        op.status,
        op.requestedAt,
        op.finishedAt,
        op.error ? `${op.error.step}: ${op.error.reason}` : '',
      ]);
      out(o)(table(['ID', 'KIND', 'STATUS', 'REQUESTED', 'FINISHED', 'ERROR'], rows), r.operations);
    });

  operation
    .command('show <id>')
    .description('one operation: kind, status, the steps with their times, the result or the error')
    .option('--json')
    .action(async (id: string, o: { json?: boolean }) => {
      const op = await apiClient().call<OperationShown>('GET', `/v1/operations/${enc(id)}`);
      out(o)(describe(op), op);
    });
}
