import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clusterTlsDir, ensureNodeTls, nodeTlsFiles, removeClusterTls } from './clusterTls.js';
import { DATA_ROOT_RECORD } from './dataRoot.js';
import { ownedTempDir, postgresOsUser } from './osUser.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Can the postgres OS user (as its servers run: its uid and gid only) read `file`? */
const postgresReads = (file: string) => {
  const user = postgresOsUser();
  return spawnSync('/bin/cat', [file], { uid: user.uid, gid: user.gid, cwd: '/' }).status === 0;
};

describe.runIf(process.getuid?.() === 0)('cluster TLS material', () => {
  it('keeps the node certificates beside the CA when the home is the data root (the layout of before)', async () => {
    const home = await ownedTempDir('pgfleet-tlshome-');
    dirs.push(home);
    const files = await ensureNodeTls(home, 'c1', 'n1');
    expect(files).toEqual(nodeTlsFiles(home, 'c1', 'n1'));
    expect(files.keyFile).toBe(join(clusterTlsDir(home, 'c1'), 'nodes', 'n1', 'server.key'));
    expect(postgresReads(files.keyFile)).toBe(true);
  });

  it('issues node certificates in the data root of a home under 0700; the CA key stays in the home', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgfleet-0700-'));
    const root = mkdtempSync(join(tmpdir(), 'pgfleet-root-'));
    dirs.push(dir, root);
    chmodSync(dir, 0o700);
    chmodSync(root, 0o711);
    const home = join(dir, '.pgfleet');
    mkdirSync(home);
    writeFileSync(join(home, DATA_ROOT_RECORD), `${root}\n`);

    const files = await ensureNodeTls(home, 'c1', 'n1');
    expect(files.keyFile).toBe(join(root, 'clusters', 'c1', 'tls', 'nodes', 'n1', 'server.key'));
    for (const f of [files.keyFile, files.certFile, files.caFile]) expect(postgresReads(f)).toBe(true);
    const caKey = join(clusterTlsDir(home, 'c1'), 'ca.key');
    expect(statSync(caKey).mode & 0o777).toBe(0o600);
    expect(postgresReads(caKey)).toBe(false);
    expect(statSync(dir).mode & 0o777).toBe(0o700);

    removeClusterTls(home, 'c1');
    expect(existsSync(join(root, 'clusters', 'c1'))).toBe(false);
    expect(existsSync(join(home, 'clusters', 'c1'))).toBe(false);
    expect(existsSync(dirname(files.keyFile))).toBe(false);
    removeClusterTls(home, 'c1');
  });
});
