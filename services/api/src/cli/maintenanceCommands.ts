import type { Command } from 'commander';
import { apiClient, CliError } from './client.js';
import { table } from './format.js';
import { finalReply, NO_WAIT_HELP, runLongAction, startedLine } from './operationWait.js';

type Out = (human: string, json: unknown) => void;

interface Change {
  name: string;
  old: string | null;
  new: string | null;
}

interface ParameterRow {
  name: string;
  value: string | null;
  min: string;
  max: string;
  applies: string;
  summary: string;
}

const shownValue = (v: string | null) => v ?? 'plan default';

/** `key=value` arguments as a parameters object; anything else is one sentence naming it. */
function parseAssignments(args: readonly string[]): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const arg of args) {
    const at = arg.indexOf('=');
    if (at <= 0 || at === arg.length - 1) {
      throw new CliError(`expected key=value (e.g. work_mem=64MB), got ${arg}`, 'VALIDATION_FAILED');
    }
    parameters[arg.slice(0, at)] = arg.slice(at + 1);
  }
  return parameters;
}

/**
 * `pgfleet cluster restart NAME` (a rolling restart, as an operation) and `pgfleet config show|set
 * NAME` (the PostgreSQL parameters a user may set; a change is an operation too: a reload, or a
 * rolling restart when PostgreSQL says one is pending). Steps print as they complete (stderr).
 */
export function registerMaintenanceCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const cluster = program.commands.find((c) => c.name() === 'cluster') ?? program.command('cluster');
  cluster
    .command('restart <name>')
    .description('restart every node: Business one node at a time with a switchover, others in place')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, o: { wait: boolean; json?: boolean }) => {
      const action = {
        method: 'POST',
        path: `/v1/clusters/${name}/restart`,
        name,
        wait: o.wait,
        json: Boolean(o.json),
      };
      const { accepted, end } = await runLongAction(apiClient(), action);
      if (accepted.operationId && !end) {
        out(o)(startedLine(accepted, name), accepted);
        return;
      }
      const r = finalReply(accepted, end);
      const result = r.result as { restarted?: string[]; leader?: string; previousLeader?: string } | undefined;
      const nodes = result?.restarted ?? [];
      const how =
        nodes.length > 1
          ? `node by node (${nodes.join(', ')}); leader ${result?.leader} (was ${result?.previousLeader})`
          : `in place (${nodes.join(', ')})`;
      out(o)(`cluster ${name} restarted ${how}`, r);
    });

  const config = program.command('config').description('PostgreSQL parameters of a cluster (an allow-list)');
  config
    .command('show <name>')
    .description('the parameters you may set: value (or the plan default), bounds on the plan, reload or restart')
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const r = await apiClient().call<{ plan: string; parameters: ParameterRow[] }>(
        'GET',
        `/v1/clusters/${name}/config`,
      );
      const rows = r.parameters.map((p) => [p.name, shownValue(p.value), `${p.min} .. ${p.max}`, p.applies, p.summary]);
      out(o)(`${name} (plan ${r.plan})\n${table(['PARAMETER', 'VALUE', 'BOUNDS', 'APPLIES', 'WHAT'], rows)}`, r);
    });
  config
    .command('set <name> <assignments...>')
    .description('set parameters (key=value, e.g. work_mem=64MB; key=default for the plan setting) on every node')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, assignments: string[], o: { wait: boolean; json?: boolean }) => {
      const parameters = parseAssignments(assignments);
      const path = `/v1/clusters/${name}/config`;
      const action = { method: 'POST', path, body: { parameters }, name, wait: o.wait, json: Boolean(o.json) };
      const { accepted, end } = await runLongAction(apiClient(), action);
      if (accepted.operationId && !end) {
        out(o)(startedLine(accepted, name), accepted);
        return;
      }
      const r = finalReply(accepted, end);
      const result = r.result as { changes?: Change[]; restarted?: boolean; pendingRestart?: string[] } | undefined;
      const changed = (result?.changes ?? []).map((c) => `${c.name} ${shownValue(c.old)} -> ${shownValue(c.new)}`);
      const how = result?.restarted
        ? `applied with a rolling restart (${(result.pendingRestart ?? []).join(', ')} needs one)`
        : 'applied with a reload, no restart';
      out(o)(`${name}: ${changed.join(', ')}; ${how}`, r);
    });
}
