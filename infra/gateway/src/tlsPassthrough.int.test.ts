import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClusterCa,
  freePort,
  issueNodeCert,
  ownedTempDir,
  startLocalServer,
  toolchain,
  type ClusterCa,
  type LocalServer,
} from '@pgfleet/postgres';
import { createHaproxyGateways } from './haproxyProcess.js';

let home: string;
let pgDir: string;
let ca: ClusterCa;
let server: LocalServer;
let gatewayPort: number;
const gateways = () => createHaproxyGateways({ home });

function psql(conninfo: string, sql: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      toolchain(15).bin('psql'),
      [conninfo, '-X', '-At', '-c', sql],
      { env: { ...process.env, HOME: pgDir, PGCONNECT_TIMEOUT: '5' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: `${stdout}${stderr}`.trim() }),
    );
  });
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'pgfleet-gwtls-'));
  pgDir = await ownedTempDir('pgfleet-gwtlspg-');
  ca = await createClusterCa(join(pgDir, 'ca'), 'tls-gw');
  // The node's certificate names the gateway's address: the client verifies it through the gateway.
  const cert = await issueNodeCert({
    caDir: ca.dir,
    outDir: join(pgDir, 'certs'),
    commonName: 'n1',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  server = await startLocalServer({
    dataDir: join(pgDir, 'n1'),
    port: await freePort(),
    settings: {
      ssl: 'on',
      ssl_cert_file: `'${cert.certFile}'`,
      ssl_key_file: `'${cert.keyFile}'`,
      ssl_ca_file: `'${cert.caFile}'`,
    },
  });
  gatewayPort = await freePort();
  await gateways().start({
    clusterId: 'tls',
    gatewayId: 'gw-1',
    binds: [{ host: '127.0.0.1', port: gatewayPort }],
    nodes: [{ nodeId: 'n1', host: '127.0.0.1', port: server.port }],
    leaderNodeId: 'n1',
  });
});

afterAll(async () => {
  await gateways()
    .remove('tls', 'gw-1')
    .catch(() => undefined);
  await server?.stop('immediate');
  await rm(home, { recursive: true, force: true });
  await rm(pgDir, { recursive: true, force: true });
});

describe('TLS through the gateway (TCP passthrough)', () => {
  it('lets psql verify the node certificate against the cluster CA with sslmode=verify-full', async () => {
    const r = await psql(
      `host=127.0.0.1 port=${gatewayPort} user=postgres dbname=postgres sslmode=verify-full sslrootcert=${ca.certFile}`,
      "SELECT s.ssl, s.version, current_setting('port') FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
    );
    expect(r).toEqual({ code: 0, out: expect.stringMatching(new RegExp(`^t\\|TLSv1\\.[23]\\|${server.port}$`)) });
  });
});
