import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalServer, type LocalServer } from './localServer.js';
import { freePort } from './net.js';
import { ownedTempDir } from './osUser.js';
import { toolchain } from './toolchain.js';
import { createClusterCa, issueNodeCert, type ClusterCa, type NodeCertRequest } from './tls.js';

let dir: string;
let ca: ClusterCa;
let server: LocalServer;
let certReq: NodeCertRequest;

/** The real psql client; resolves with its exit code and output, never throws on failure. */
function psql(conninfo: string, sql: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      toolchain(15).bin('psql'),
      [conninfo, '-X', '-At', '-c', sql],
      {
        env: {
          ...process.env,
          HOME: dir,
          PGSSLCERT: join(dir, 'none.crt'),
          PGSSLKEY: join(dir, 'none.key'),
          PGCONNECT_TIMEOUT: '5',
        },
      },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: `${stdout}${stderr}`.trim() }),
    );
  });
}

const conn = (mode: string, rootCert = ca.certFile, host = '127.0.0.1') =>
  `host=${host} port=${server.port} user=postgres dbname=postgres sslmode=${mode} sslrootcert=${rootCert}`;
const SSL_OF_ME = 'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

async function reloadUntil(check: () => Promise<boolean>) {
  const r = await psql(
    `host=${server.socketDir} port=${server.port} user=postgres dbname=postgres`,
    'SELECT pg_reload_conf()',
  );
  expect(r).toEqual({ code: 0, out: 't' });
  for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setTimeout(r, 100));
}

beforeAll(async () => {
  dir = await ownedTempDir('pgfleet-tlsint-');
  ca = await createClusterCa(join(dir, 'ca'), 'tls-test');
  certReq = {
    caDir: ca.dir,
    outDir: join(dir, 'certs'),
    commonName: 'node-1',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  };
  const cert = await issueNodeCert(certReq);
  server = await startLocalServer({
    dataDir: join(dir, 'data'),
    port: await freePort(),
    settings: {
      ssl: 'on',
      ssl_cert_file: `'${cert.certFile}'`,
      ssl_key_file: `'${cert.keyFile}'`,
      ssl_ca_file: `'${cert.caFile}'`,
    },
  });
}, 60000);

afterAll(async () => {
  await server?.stop('immediate');
  await rm(dir, { recursive: true, force: true });
}, 60000);

describe('PostgreSQL serving a certificate of its cluster CA', () => {
  it('accepts psql with sslmode=verify-full against the cluster CA, and pg_stat_ssl shows TLS', async () => {
    const r = await psql(conn('verify-full'), SSL_OF_ME);
    expect(r).toEqual({ code: 0, out: expect.stringMatching(/^t\|TLSv1\.[23]$/) });
    expect((await psql(conn('verify-full', ca.certFile, 'localhost'), SSL_OF_ME)).out).toMatch(/^t\|/);
  }, 30000);

  it('refuses verify-full against another cluster CA', async () => {
    const other = await createClusterCa(join(dir, 'other-ca'), 'other');
    const r = await psql(conn('verify-full', other.certFile), 'SELECT 1');
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/certificate verify failed/);
  }, 30000);

  it('fails verify-full when the SAN lacks the host, and works again after a rotation by reload', async () => {
    await issueNodeCert({ ...certReq, dnsNames: ['elsewhere.example'], ipAddresses: [] });
    await reloadUntil(async () => (await psql(conn('verify-full'), 'SELECT 1')).code !== 0);
    const bad = await psql(conn('verify-full'), 'SELECT 1');
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/does not match host name "127\.0\.0\.1"/);
    // The chain is still good: only the host name check fails.
    expect((await psql(conn('verify-ca'), SSL_OF_ME)).out).toMatch(/^t\|/);

    await issueNodeCert(certReq);
    await reloadUntil(async () => (await psql(conn('verify-full'), 'SELECT 1')).code === 0);
    expect((await psql(conn('verify-full'), SSL_OF_ME)).out).toMatch(/^t\|/);
  }, 60000);
});
