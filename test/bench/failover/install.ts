import { spawnSync } from 'node:child_process';

/** Whether dpkg lists the package as installed. */
function installed(name: string): boolean {
  const r = spawnSync('dpkg', ['-s', name], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('Status: install ok installed');
}

function aptGet(args: string[]): { ok: boolean; output: string } {
  const r = spawnSync('apt-get', args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 1 << 26,
  });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/**
 * Installs the Debian packages the benchmark needs with apt-get, only those missing (a second run
 * does nothing). Refreshes the package lists once if the first attempt fails (stale lists).
 * No service is started: the benchmark runs its own daemons on free ports.
 */
export function ensureDebianPackages(names: readonly string[]): void {
  const missing = names.filter((n) => !installed(n));
  if (missing.length === 0) return;
  console.error(`[bench] apt-get install ${missing.join(' ')}`);
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  let r = aptGet(install);
  if (!r.ok) {
    aptGet(['update']);
    r = aptGet(install);
  }
  if (!r.ok)
    throw new Error(`apt-get install ${missing.join(' ')} failed: ${r.output.split('\n').slice(-5).join(' | ')}`);
}
