import type { Command } from 'commander';
import { apiClient, CliError } from './client.js';
import { finalReply, NO_WAIT_HELP, runLongAction, startedLine } from './operationWait.js';

type Out = (human: string, json: unknown) => void;

interface UpgradeResult {
  checkOnly?: boolean;
  fromVersion?: number;
  toVersion?: number;
  serverVersion?: string;
  leader?: string;
  followers?: string[];
}

/** `--to 15` as a number; anything else is one sentence (the service checks the version itself). */
function parseVersion(value: string): number {
  if (!/^\d+$/.test(value))
    throw new CliError(`--to expects a major version such as 15, got ${value}`, 'VALIDATION_FAILED');
  return Number(value);
}

/**
 * `pgfleet upgrade NAME --to 15 [--check]`: a major upgrade with pg_upgrade --link, as an operation
 * whose steps print as they complete (stderr); `--check` only runs pg_upgrade --check against the
 * running cluster and changes nothing. `--minor`: a minor upgrade, the rolling restart of `cluster
 * restart` onto the installed binaries of the same major, printing each node's server_version before → after.
 */
export function registerUpgradeCommand(program: Command, out: (opts: { json?: boolean }) => Out): void {
  program
    .command('upgrade <name>')
    .description('major upgrade with pg_upgrade --link, or --minor (operations); --check only checks, changing nothing')
    .option('--to <version>', 'the PostgreSQL major version to upgrade to (e.g. 15)')
    .option('--check', 'run pg_upgrade --check against the running cluster and stop there')
    .option('--minor', 'a minor upgrade: every node restarted, one at a time, onto the installed binaries')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(
      async (name: string, o: { to?: string; check?: boolean; minor?: boolean; wait: boolean; json?: boolean }) => {
        if (o.minor) {
          if (o.to !== undefined || o.check) {
            throw new CliError('upgrade --minor takes neither --to nor --check', 'VALIDATION_FAILED');
          }
          await minorUpgrade(name, o, out(o));
          return;
        }
        if (o.to === undefined) throw new CliError('upgrade needs --to VERSION (e.g. --to 15)', 'VALIDATION_FAILED');
        const body = { toVersion: parseVersion(o.to), checkOnly: Boolean(o.check) };
        const path = `/v1/clusters/${name}/upgrade`;
        const action = { method: 'POST', path, body, name, wait: o.wait, json: Boolean(o.json) };
        const { accepted, end } = await runLongAction(apiClient(), action);
        if (accepted.operationId && !end) {
          out(o)(startedLine(accepted, name), accepted);
          return;
        }
        const r = finalReply(accepted, end);
        const result = (r.result ?? {}) as UpgradeResult;
        const line = result.checkOnly
          ? `cluster ${name} can be upgraded from ${result.fromVersion} to ${result.toVersion}: ` +
            'pg_upgrade --check passed, nothing was changed'
          : `cluster ${name} upgraded from ${result.fromVersion} to ${result.toVersion} ` +
            `(server ${result.serverVersion}; leader ${result.leader}` +
            `${result.followers?.length ? `, followers ${result.followers.join(', ')} re-cloned` : ''}); ` +
            'its URL is unchanged; restores to a time before the upgrade are no longer possible';
        out(o)(line, r);
      },
    );
}

interface MinorResult {
  restarted?: string[];
  minorUpgrade?: { nodes: { nodeId: string; before: string; after: string }[]; upgraded: boolean };
}

/** `upgrade NAME --minor`: the rolling restart with reason minor-upgrade; each node's server_version before → after. */
async function minorUpgrade(name: string, o: { wait: boolean; json?: boolean }, print: Out): Promise<void> {
  const path = `/v1/clusters/${name}/restart`;
  const action = { method: 'POST', path, body: { reason: 'minor-upgrade' }, name, wait: o.wait, json: !!o.json };
  const { accepted, end } = await runLongAction(apiClient(), action);
  if (accepted.operationId && !end) {
    print(startedLine(accepted, name), accepted);
    return;
  }
  const r = finalReply(accepted, end);
  const minor = (r.result as MinorResult | undefined)?.minorUpgrade;
  const nodes = (minor?.nodes ?? []).map((n) => `  ${n.nodeId}: ${n.before} → ${n.after}`);
  const outcome = minor?.upgraded
    ? `cluster ${name} upgraded to the newest installed minor, node by node:`
    : `cluster ${name} is already on the newest installed minor (every node restarted, same server_version):`;
  print([outcome, ...nodes].join('\n'), r);
}
