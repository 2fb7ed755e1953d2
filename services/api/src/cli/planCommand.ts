import type { Command } from 'commander';
import { apiClient } from './client.js';
import { finalReply, NO_WAIT_HELP, runLongAction, startedLine } from './operationWait.js';
import { PlanEvictions } from './planEvictions.js';

type Out = (human: string, json: unknown) => void;

/**
 * `pgfleet cluster plan NAME --plan PLAN`: change the plan online, as an operation whose steps are
 * printed as they complete (stderr), unless `--no-wait`. Then the on-demand backups the new plan's
 * quota evicted, if any (the backup service records them after the change's `plan` step).
 */
export function registerPlanCommand(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const cluster = program.commands.find((c) => c.name() === 'cluster') ?? program.command('cluster');
  cluster
    .command('plan <name>')
    .description('change the plan online: Starter <-> Business migrates the topology, a resize restarts node by node')
    .requiredOption('--plan <plan>', 'the new plan, e.g. business-1024')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, o: { plan: string; wait: boolean; json?: boolean }) => {
      const path = `/v1/clusters/${name}/plan`;
      const action = { method: 'POST', path, body: { plan: o.plan }, name, wait: o.wait, json: Boolean(o.json) };
      const api = apiClient();
      const evictions = o.wait ? await PlanEvictions.before(api, name, o.plan) : undefined;
      const follow = evictions ? { extraStreams: evictions.streams, settle: evictions.settle } : {};
      const { accepted, end } = await runLongAction(api, action, follow);
      if (accepted.operationId && !end) {
        out(o)(startedLine(accepted, name), accepted);
        return;
      }
      const reply = finalReply(accepted, end);
      const gone = evictions?.evicted ?? [];
      const r = gone.length > 0 ? { ...reply, result: { ...reply.result, evicted: gone } } : reply;
      const result = r.result as { from?: string; to?: string; nodes?: string[] } | undefined;
      const nodes = result?.nodes ? ` (${result.nodes.length} data node${result.nodes.length === 1 ? '' : 's'})` : '';
      const line = `cluster ${name} is on plan ${result?.to ?? o.plan}, was ${result?.from ?? 'unknown'}${nodes}`;
      out(o)(`${line}${evictions?.sentence() ?? ''}`, r);
    });
}
