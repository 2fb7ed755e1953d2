import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type TestPlatform } from './harness.js';

// A test host of our own: a network namespace joined to this machine by a veth pair.
const NS = `pgfns${process.pid % 100000}`;
const HOST_IF = `pgfh${process.pid % 100000}`;
const NS_IF = `pgfn${process.pid % 100000}`;
const HOST_ADDR = '10.213.7.1';
const NS_ADDR = '10.213.7.2';

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}
function removeNetwork(): void {
  spawnSync('ip', ['link', 'del', HOST_IF]);
  spawnSync('ip', ['netns', 'del', NS]);
}
/** psql run inside the namespace, i.e. from the other host. */
function psqlFromOutside(conninfo: string): { ok: boolean; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', NS, 'psql', conninfo, '-XAtq', '-c', 'SELECT 42'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { ok: r.status === 0, out: (r.stdout + r.stderr).trim() };
}

let t: TestPlatform;
const caFile = join(tmpdir(), `pgfleet-expose-ca-${process.pid}.crt`);

beforeAll(async () => {
  removeNetwork();
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF]);
  sh('ip', ['link', 'set', NS_IF, 'netns', NS]);
  sh('ip', ['addr', 'add', `${HOST_ADDR}/30`, 'dev', HOST_IF]);
  sh('ip', ['link', 'set', HOST_IF, 'up']);
  sh('ip', ['netns', 'exec', NS, 'ip', 'addr', 'add', `${NS_ADDR}/30`, 'dev', NS_IF]);
  sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', NS_IF, 'up']);
  sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
  t = await startPlatform({ PGFLEET_EXPOSE_ADDRESS: HOST_ADDR });
});
afterAll(async () => {
  await t?.cleanup();
  removeNetwork();
  rmSync(caFile, { force: true });
});

describe('external access only with forced TLS', () => {
  it(
    'refuses expose without forced TLS; with it the cluster answers on the outside address (verify-full), ' +
      'plaintext is refused, and unexpose closes it',
    async () => {
      const created = await t.cli('cluster', 'create', 'public', '--plan', 'starter-512');
      expect(created.code, created.stderr).toBe(0);
      const url = new URL((await t.cli('cluster', 'url', 'public')).stdout.trim());
      const password = decodeURIComponent(url.password);
      const conninfo = (port: string, sslmode: string) =>
        `host=${HOST_ADDR} port=${port} dbname=app user=app password=${password} ` +
        `sslmode=${sslmode} sslrootcert=${caFile} connect_timeout=5`;

      const refused = await t.cli('cluster', 'expose', 'public');
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('can be exposed only once TLS is forced');
      expect(psqlFromOutside(conninfo(url.port, 'require')).ok).toBe(false);

      expect((await t.cli('cluster', 'tls', 'public', '--force')).code).toBe(0);
      const exposed = await t.cli('cluster', 'expose', 'public', '--json');
      expect(exposed.code, exposed.stderr).toBe(0);
      const { result } = JSON.parse(exposed.stdout) as { result: { address: string; port: number } };
      expect(result).toMatchObject({ address: HOST_ADDR, port: Number(url.port) });
      writeFileSync(caFile, (await t.cli('cluster', 'ca', 'public')).stdout);

      const viaTls = psqlFromOutside(conninfo(url.port, 'verify-full'));
      expect(viaTls, viaTls.out).toMatchObject({ ok: true, out: '42' });
      const plaintext = psqlFromOutside(conninfo(url.port, 'disable'));
      expect(plaintext.ok).toBe(false);
      expect(plaintext.out).toMatch(/no pg_hba.conf entry|SSL off/);

      expect((await t.cli('cluster', 'unexpose', 'public')).code).toBe(0);
      expect(psqlFromOutside(conninfo(url.port, 'verify-full')).ok).toBe(false);
      // Still reachable on this host through the same URL.
      const local = spawnSync('psql', [url.toString(), '-XAtq', '-c', 'SELECT 1'], { encoding: 'utf8' });
      expect(local.stdout.trim()).toBe('1');
    },
  );
});
