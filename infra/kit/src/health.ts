import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A health check: resolves (to anything but `false`) when healthy; throws or returns `false` when not. */
export type HealthCheck = () => unknown | Promise<unknown>;

export interface CheckResult {
  ok: boolean;
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'failing';
  service: string;
  checks: Record<string, CheckResult>;
}

export interface HealthServer {
  port: number;
  /** `http://127.0.0.1:{port}/healthz` */
  url: string;
  addCheck(name: string, check: HealthCheck): void;
  removeCheck(name: string): void;
  /** Run every check now (what GET /healthz answers). */
  report(): Promise<HealthReport>;
  close(): Promise<void>;
}

export interface HealthServerOptions {
  service: string;
  /** 0 = any free port. */
  port?: number;
  host?: string;
  /** A check that has not answered within this many milliseconds fails. */
  checkTimeoutMs?: number;
}

/** A tiny HTTP server: GET /healthz is 200 when every registered check passes, else 503. */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { service, host = '127.0.0.1', checkTimeoutMs = 2_000 } = options;
  const checks = new Map<string, HealthCheck>();

  const report = async (): Promise<HealthReport> => {
    const entries = await Promise.all(
      [...checks].map(async ([name, check]) => [name, await runCheck(check, checkTimeoutMs)] as const),
    );
    const results = Object.fromEntries(entries);
    return { status: entries.every(([, r]) => r.ok) ? 'ok' : 'failing', service, checks: results };
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz') return send(res, 404, { error: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    report().then(
      (r) => send(res, r.status === 'ok' ? 200 : 503, r),
      (error: unknown) => send(res, 500, { error: String(error) }),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: `http://${host}:${port}/healthz`,
    addCheck: (name, check) => void checks.set(name, check),
    removeCheck: (name) => void checks.delete(name),
    report,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function runCheck(check: HealthCheck, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const result = await Promise.race([Promise.resolve().then(check), timeout]);
    return result === false ? { ok: false, error: 'check failed' } : { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

function send(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}
