import type { Command } from 'commander';
import { parseWith } from '@pgfleet/contracts';
import { PitrRestoreBody } from '../http/pitrRestoreRoutes.js';
import { apiClient, CliError } from './client.js';
import { NO_WAIT_HELP, runLongAction, startedLine } from './operationWait.js';

type Out = (opts: { json?: boolean }) => (human: string, json: unknown) => void;

interface Options {
  to: string;
  into?: string;
  inPlace?: boolean;
  wait: boolean;
  json?: boolean;
}

const FLAGS: Record<string, string> = { to: '--to', into: '--into', inPlace: '--in-place' };

/**
 * `pgfleet pitr restore NAME --to TIMESTAMP [--into NEW | --in-place]`: into a new cluster by
 * default (named `{NAME}-restored-{time}` unless `--into` names it; the original keeps running),
 * in place only when asked. Added to the `pitr` command (made here when no other module made it).
 */
export function registerPitrRestoreCommand(program: Command, out: Out): void {
  const pitr =
    program.commands.find((c) => c.name() === 'pitr') ??
    program.command('pitr').description('point-in-time recovery: status, full backups, restore to a time');
  pitr
    .command('restore <name>')
    .description('restore to a time: into a new cluster of the same plan (default), or --in-place')
    .requiredOption('--to <timestamp>', 'ISO 8601 with an offset, e.g. 2026-11-30T10:15:00+01:00 or ...Z')
    .option('--into <newname>', 'the new cluster (default: NAME-restored-TIME)')
    .option('--in-place', "replace the cluster's own data (its writes are fenced meanwhile; the window restarts)")
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: Options) => {
      if (o.into !== undefined && o.inPlace) {
        throw new CliError('give either --into NEWNAME or --in-place, not both', 'VALIDATION_FAILED', {
          field: 'into',
        });
      }
      const input = { to: o.to, inPlace: Boolean(o.inPlace), ...(o.into === undefined ? {} : { into: o.into }) };
      const body = parseWith(PitrRestoreBody, input, 'restore');
      if (!body.ok) {
        const { message, code, details } = body.rejection;
        const flagged = message.replace(/restore: (to|into|inPlace):/, (_m, f: string) => `${FLAGS[f]}:`);
        throw new CliError(flagged, code, details);
      }
      const path = `/v1/clusters/${encodeURIComponent(name)}/pitr/restore`;
      const action = { method: 'POST', path, body: body.value, name, wait: o.wait, json: Boolean(o.json) };
      const { accepted, end } = await runLongAction(apiClient(), action);
      const into = String(accepted.into ?? name);
      if (accepted.operationId && !end) return out(o)(startedLine(accepted, name), accepted);
      const r = { ...accepted, ...(end?.result ?? {}), ...(end ? { steps: end.steps } : {}) };
      const done = o.inPlace
        ? `${name} restored in place to ${o.to}; its recoverable window restarts (a new full backup is taken)`
        : `${name} restored to ${o.to} into the new cluster ${into}`;
      out(o)(done, r);
    });
}
