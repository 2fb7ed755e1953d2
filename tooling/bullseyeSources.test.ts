import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../infra/deploy/bullseyeSources.sh', import.meta.url));
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

/** A fake /etc/apt with these files; `ensure_bullseye_sources` run against it (no root, no apt). */
async function aptDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pgfleet-apt-'));
  dirs.push(dir);
  await mkdir(join(dir, 'sources.list.d'));
  for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
  return dir;
}

function ensure(dir: string): Promise<{ code: number; output: string }> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PGFLEET_BULLSEYE_SOURCES: join(dir, 'sources.list.d', 'pgfleet-bullseye.sources'),
    PGFLEET_BULLSEYE_PIN: join(dir, 'pin'),
    PGFLEET_APT_SOURCES_DIR: join(dir, 'sources.list.d'),
    PGFLEET_APT_SOURCES_LIST: join(dir, 'sources.list'),
  };
  const script = `as_root() { "$@"; }; source "${SCRIPT}"; ensure_bullseye_sources`;
  return new Promise((resolve) => {
    execFile('bash', ['--norc', '--noprofile', '-c', script], { env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('bootstrap: PostgreSQL 13 from bullseye with its security updates (infra/deploy/bullseyeSources.sh)', () => {
  it('adds bullseye and bullseye-security from the mirrors of the bookworm sources, once', async () => {
    const dir = await aptDir({ 'sources.list.d/debian.sources': DEB822 });
    expect(await ensure(dir)).toEqual({ code: 0, output: '' }); // 0: changed
    const sources = await readFile(join(dir, 'sources.list.d', 'pgfleet-bullseye.sources'), 'utf8');
    expect(sources).toContain('URIs: http://mirror.example/debian\nSuites: bullseye\n');
    expect(sources).toContain('URIs: http://security.example/debian-security\nSuites: bullseye-security\n');
    const pin = await readFile(join(dir, 'pin'), 'utf8');
    expect(pin).toMatch(/Package: \*\nPin: release n=bullseye-security\nPin-Priority: -1/);
    expect(pin).toMatch(
      /Package: postgresql-13 postgresql-client-13 .*\nPin: release n=bullseye-security\nPin-Priority: 100/,
    );
    // Run again: nothing to change (1), files untouched.
    expect((await ensure(dir)).code).toBe(1);
    expect(await readFile(join(dir, 'sources.list.d', 'pgfleet-bullseye.sources'), 'utf8')).toBe(sources);
  });

  it('reads a one-line sources.list too (options in brackets), and refuses without a security mirror', async () => {
    const list = [
      'deb [arch=amd64] http://deb.example/debian bookworm main',
      'deb http://sec.example/debian-security bookworm-security main',
    ].join('\n');
    const dir = await aptDir({ 'sources.list': `${list}\n` });
    expect((await ensure(dir)).code).toBe(0);
    const sources = await readFile(join(dir, 'sources.list.d', 'pgfleet-bullseye.sources'), 'utf8');
    expect(sources).toContain('URIs: http://sec.example/debian-security\nSuites: bullseye-security');

    const without = await aptDir({ 'sources.list': 'deb http://deb.example/debian bookworm main\n' });
    const refused = await ensure(without);
    expect(refused.code).toBe(2);
    expect(refused.output).toContain('cannot find the Debian bookworm security mirror');
  });
});
