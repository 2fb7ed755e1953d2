import type { Command } from 'commander';
import { AccountId, parseWith } from '@pgfleet/contracts';
import { apiClient, CliError } from './client.js';

type Out = (human: string, json: unknown) => void;

/** The account's name, checked as the API will (it is the account's id: lowercase letters, digits, `_`, `-`). */
function accountName(name: string): string {
  const parsed = parseWith(AccountId, name, 'account name');
  if (!parsed.ok) throw new CliError(parsed.rejection.message, parsed.rejection.code, { field: 'NAME' });
  return parsed.value;
}

/** How a new token is shown: once, with how to use it (nothing keeps it: only its sha256 is recorded). */
const tokenShown = (what: string, r: { accountId: string; token: string }) =>
  `${what}\n\n  ${r.token}\n\nThis token is shown once (only its sha256 is stored). Use it with\n` +
  `  pgfleet --token TOKEN ...   or   PGFLEET_TOKEN=TOKEN pgfleet ...\n` +
  `It acts on account ${r.accountId} only.`;

/**
 * `pgfleet account create NAME`, `account token rotate NAME`, `account token revoke NAME`: with
 * the admin token only (the API refuses an account token: ADMIN_ONLY).
 */
export function registerAccountCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const account = program.command('account').description('accounts and their API tokens (admin token only)');
  account
    .command('create')
    .description('create an account; prints its API token once')
    .argument('<name>', 'the account name, which is its id (--account NAME)')
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const body = { name: accountName(name) };
      const r = await apiClient().call<{ accountId: string; token: string }>('POST', '/v1/accounts', body);
      out(o)(tokenShown(`account ${r.accountId} created; its API token:`, r), r);
    });

  const token = account.command('token').description("rotate or revoke an account's API token");
  token
    .command('rotate')
    .description('a new token for the account (printed once); the previous one stops working at once')
    .argument('<name>', 'the account')
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const path = `/v1/accounts/${accountName(name)}/token`;
      const r = await apiClient().call<{ accountId: string; token: string }>('POST', path);
      out(o)(
        tokenShown(`the token of account ${r.accountId} is rotated; the previous one no longer works. New token:`, r),
        r,
      );
    });
  token
    .command('revoke')
    .description("revoke the account's token: it stops working at once (the clusters stay; rotate gives a new one)")
    .argument('<name>', 'the account')
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const path = `/v1/accounts/${accountName(name)}/token`;
      const r = await apiClient().call<{ accountId: string; alreadyRevoked: boolean }>('DELETE', path);
      const human = r.alreadyRevoked
        ? `the token of account ${r.accountId} was already revoked`
        : `the token of account ${r.accountId} is revoked; ` +
          `"pgfleet account token rotate ${r.accountId}" gives it a new one`;
      out(o)(human, r);
    });
}
