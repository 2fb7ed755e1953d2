import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, ownedTempDir } from '@pgfleet/postgres';
import { CLI, postmastersUnder, waitFor } from './harness.js';

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const c of cleanups) c();
});

function pidAlive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

describe('pgfleet up (what npm start runs)', () => {
  it(
    'brings up NATS, the control-plane PostgreSQL, the relay, the services and the API, and stops all of ' +
      'them on SIGINT; a second start reuses the state',
    async () => {
      const home = await ownedTempDir('pgfleet-up-');
      chmodSync(home, 0o755);
      const env = {
        ...process.env,
        PGFLEET_HOME: home,
        PGFLEET_NATS_PORT: String(await freePort()),
        PGFLEET_EVENTSTORE_PORT: String(await freePort()),
        PGFLEET_API_PORT: String(await freePort()),
        PGFLEET_LOG_LEVEL: 'warn',
      };
      cleanups.push(() => rmSync(home, { recursive: true, force: true }));
      const tokens: string[] = [];
      for (const round of [1, 2]) {
        const child = spawn(process.execPath, [CLI, 'up'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        cleanups.push(() => {
          if (child.exitCode === null) child.kill('SIGKILL');
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        await waitFor(
          'pgfleet is up',
          () => out.includes('pgfleet is up') || (child.exitCode !== null ? Promise.reject(new Error(out)) : undefined),
          60_000,
        );
        expect(out).toMatch(/API at http:\/\/127\.0\.0\.1:\d+/);
        expect(out).toContain('services   provisioning');
        const apiPort = env.PGFLEET_API_PORT;
        const token = readFileSync(`${home}/api-token`, 'utf8').trim();
        expect(statSync(`${home}/api-token`).mode & 0o777).toBe(0o600);
        tokens.push(token);
        const health = await fetch(`http://127.0.0.1:${apiPort}/healthz`);
        expect(health.status).toBe(200);
        const list = await fetch(`http://127.0.0.1:${apiPort}/v1/clusters`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(list.status).toBe(200);
        const eventstorePid = Number(readFileSync(`${home}/eventstore/postmaster.pid`, 'utf8').split('\n')[0]);
        expect(pidAlive(eventstorePid)).toBe(true);
        expect(postmastersUnder(`${home}/eventstore`)).toHaveLength(1);

        child.kill('SIGINT');
        const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
        expect(code, `round ${round}: ${out}`).toBe(0);
        expect(out).toContain('SIGINT: stopping pgfleet');
        await waitFor('the control-plane PostgreSQL to stop', () => !pidAlive(eventstorePid) || undefined, 30_000);
        expect(postmastersUnder(home)).toHaveLength(0);
      }
      // The second start reused the first one's state: same token, same event store directory.
      expect(tokens[1]).toBe(tokens[0]);
    },
  );
});
