import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { request, type OutgoingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { platformHome, readPlatformFile } from '../platform/home.js';

/** An error the CLI prints as one sentence before exiting non-zero. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 'ERROR',
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface ApiClient {
  call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  /**
   * The account the CLI acts on: `--account`, else an account token's own (from its `pgf_ID.`
   * prefix), else undefined (the admin token: the API's default account).
   */
  account(): string | undefined;
  natsUrl(): string;
  /** TLS and credentials for NATS when the platform runs it secured (user `cli`). */
  natsAuth(): Promise<{ tls?: { caFile: string }; user?: string; pass?: string }>;
}

/**
 * The `Idempotency-Key` of this CLI invocation, sent with every request that changes something:
 * the API (and the services, as the command id) do the command once even if it is sent again.
 */
const INVOCATION_KEY = randomUUID();
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The global options `--token` and `--account`, set once by the CLI before a command runs. */
let globalOptions: { token?: string; account?: string } = {};
export function useGlobalOptions(options: { token?: string; account?: string }): void {
  globalOptions = options;
}

/** An account token says its account before the dot: `pgf_acme.…` (the API checks the rest). */
const accountOfToken = (token: string | undefined) => /^pgf_([a-z0-9][a-z0-9_-]{0,62})\./.exec(token ?? '')?.[1];

/** `path` with `?accountId=` added, for the routes that look a cluster up (`--account`). */
function withAccount(path: string, account: string | undefined): string {
  if (account === undefined || !path.startsWith('/v1/clusters')) return path;
  return `${path}${path.includes('?') ? '&' : '?'}accountId=${encodeURIComponent(account)}`;
}

/**
 * Where the CLI's requests go and as whom: the API's base URL, the token (`--token`, else
 * PGFLEET_TOKEN, PGFLEET_API_TOKEN, else the admin token file) and `--account`. `url(path)` is the
 * request's URL, the account added to cluster routes. Shared by every call and the backup download.
 */
export function apiTarget(env: NodeJS.ProcessEnv = process.env) {
  const home = platformHome(env);
  const platform = readPlatformFile(home);
  const base = env.PGFLEET_API_URL ?? (platform ? `http://127.0.0.1:${platform.apiPort}` : undefined);
  const tokenFile = join(home, 'api-token');
  const token =
    globalOptions.token ??
    env.PGFLEET_TOKEN ??
    env.PGFLEET_API_TOKEN ??
    (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
  const account = globalOptions.account;
  return { home, platform, base, token, account, url: (path: string) => `${base}${withAccount(path, account)}` };
}

/**
 * Finds the API of the local platform ($PGFLEET_HOME/platform.json), or PGFLEET_API_URL. The token:
 * `--token`, else PGFLEET_TOKEN (PGFLEET_API_TOKEN, its old name), else the admin token in
 * $PGFLEET_HOME/api-token.
 */
export function apiClient(env: NodeJS.ProcessEnv = process.env): ApiClient {
  const { home, platform, base, token, account } = apiTarget(env);
  return {
    account: () => account ?? accountOfToken(token),
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      if (!base || !token) {
        const message =
          `pgfleet is not running here (no ${join(home, 'platform.json')}): ` +
          'start it with "npm start" or "pgfleet up", or set PGFLEET_HOME';
        throw new CliError(message, 'NOT_RUNNING');
      }
      const headers = {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(MUTATING.has(method) ? { 'idempotency-key': INVOCATION_KEY } : {}),
      };
      const payload = body === undefined ? undefined : JSON.stringify(body);
      let res: { status: number; text: string };
      try {
        res = await exchange(new URL(base + withAccount(path, account)), method, headers, payload);
      } catch {
        throw new CliError(`cannot reach the pgfleet API at ${base}: is "pgfleet up" running?`, 'UNAVAILABLE');
      }
      const json = res.text ? (JSON.parse(res.text) as Record<string, unknown>) : {};
      if (res.status < 200 || res.status > 299) {
        throw new CliError(String(json.message ?? `HTTP ${res.status}`), String(json.code ?? res.status), json.details);
      }
      return json as T;
    },
    natsUrl() {
      if (env.PGFLEET_NATS_URL) return env.PGFLEET_NATS_URL;
      if (!platform) throw new CliError('pgfleet is not running here: start it with "npm start"', 'NOT_RUNNING');
      return platform.natsTls ? `tls://127.0.0.1:${platform.natsPort}` : `nats://127.0.0.1:${platform.natsPort}`;
    },
    async natsAuth() {
      // Your own server: its CA and the CLI's user from the environment, as every process of the platform.
      if (env.PGFLEET_NATS_URL) return (await import('@pgfleet/bus')).busAuthFromEnv(env);
      if (!platform?.natsTls) return {};
      const { openSecretStore } = await import('@pgfleet/postgres');
      const { natsCaFile } = await import('../platform/natsSecurity.js');
      const pass = (await openSecretStore(home).get('nats/cli')) ?? '';
      return { tls: { caFile: natsCaFile(home) }, user: 'cli', pass };
    },
  };
}

/**
 * One request and its whole answer, with node:http (node:https for an https URL): the request is
 * on its way before the call returns, and a CLI call does not pay for loading fetch (undici).
 */
async function exchange(
  url: URL,
  method: string,
  headers: OutgoingHttpHeaders,
  body: string | undefined,
): Promise<{ status: number; text: string }> {
  const send = url.protocol === 'https:' ? (await import('node:https')).request : request;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
