#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerBackupCommands } from './cli/backupCommands.js';
import { CliError } from './cli/client.js';
import { registerClusterCommands } from './cli/clusterCommands.js';
import { registerHistoryCommands } from './cli/historyCommands.js';
import { registerNetworkCommands } from './cli/networkCommands.js';

const out = (opts: { json?: boolean }) => (human: string, json: unknown) => {
  process.stdout.write((opts.json ? JSON.stringify(json, null, 2) : human) + '\n');
};

const program = new Command('pgfleet')
  .description('pgfleet: managed PostgreSQL clusters, event-sourced')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program.command('up').description('run the platform in the foreground (NATS, event store, relay, services, API)')
  .action(async () => {
    // Loaded only here: the platform pulls in NATS, the event store and PostgreSQL drivers.
    const { up } = await import('./platform/up.js');
    const platform = await up();
    console.log(`pgfleet is up; API at ${platform.apiUrl}. Ctrl-C stops it (clusters keep running).`);
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`${signal}: stopping pgfleet`);
      await platform.stop();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
    await new Promise(() => undefined);
  });

registerClusterCommands(program, out);
registerHistoryCommands(program, out);
registerBackupCommands(program, out);
registerNetworkCommands(program, out);

function fail(error: unknown): never {
  const json = process.argv.includes('--json');
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) process.exit(0);
    if (json) process.stdout.write(JSON.stringify({ code: error.code, message: error.message }) + '\n');
    process.exit(2);
  }
  const e = error instanceof CliError ? error : new CliError(error instanceof Error ? error.message : String(error), 'INTERNAL');
  if (json) process.stdout.write(JSON.stringify({ code: e.code, message: e.message, details: e.details }) + '\n');
  process.stderr.write(`error: ${e.message}\n`);
  process.exit(1);
}

program.parseAsync(process.argv).catch(fail);
