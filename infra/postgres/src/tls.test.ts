import { statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownedTempDir, postgresOsUser } from './osUser.js';
import { certInfo, createClusterCa, issueNodeCert, TlsError, verifyCert, type ClusterCa } from './tls.js';

let dir: string;
let ca: ClusterCa;
const YEAR_MS = 365 * 24 * 3600 * 1000;

beforeAll(async () => {
  dir = await ownedTempDir('pgfleet-tls-');
  ca = await createClusterCa(join(dir, 'ca'), 'prod-db');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: unknown) => (e instanceof TlsError ? e.code : String(e)),
  );

describe('createClusterCa', () => {
  it('creates a 10-year CA with a private key', () => {
    expect(statSync(ca.keyFile).mode & 0o777).toBe(0o600);
    const info = certInfo(ca.certFile);
    expect(info.isCa).toBe(true);
    expect(info.commonName).toBe('prod-db CA');
    expect(info.subject).toBe(info.issuer);
    const years = (info.notAfter.getTime() - info.notBefore.getTime()) / YEAR_MS;
    expect(years).toBeGreaterThan(9.9);
    expect(years).toBeLessThan(10.1);
  });

  it('returns the existing CA instead of replacing it', async () => {
    const before = certInfo(ca.certFile).fingerprint256;
    await createClusterCa(ca.dir, 'prod-db');
    expect(certInfo(ca.certFile).fingerprint256).toBe(before);
  });

  it('rejects a cluster name that is not plain text', async () => {
    expect(await codeOf(createClusterCa(join(dir, 'x'), 'a/CN=evil'))).toBe('INVALID_TLS_REQUEST');
  });
});

describe('issueNodeCert', () => {
  it('issues a one-year server certificate with the requested SANs, key 0600 owned by the postgres user', async () => {
    const out = join(dir, 'node1');
    const cert = await issueNodeCert({
      caDir: ca.dir,
      outDir: out,
      commonName: 'n1',
      dnsNames: ['gw.prod-db.local', 'localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    expect(cert).toEqual({
      keyFile: join(out, 'server.key'),
      certFile: join(out, 'server.crt'),
      caFile: join(out, 'ca.crt'),
    });
    const key = statSync(cert.keyFile);
    expect(key.mode & 0o777).toBe(0o600);
    expect(key.uid).toBe(postgresOsUser().uid);
    const info = certInfo(cert.certFile);
    expect(info.commonName).toBe('n1');
    expect(info.dnsNames).toEqual(['gw.prod-db.local', 'localhost']);
    expect(info.ipAddresses).toEqual(['127.0.0.1']);
    expect(info.isCa).toBe(false);
    expect(info.issuer).toBe(certInfo(ca.certFile).subject);
    expect(Math.round((info.notAfter.getTime() - info.notBefore.getTime()) / (24 * 3600 * 1000))).toBe(365);
    expect(certInfo(cert.caFile).fingerprint256).toBe(certInfo(ca.certFile).fingerprint256);
    expect((await verifyCert(ca.certFile, cert.certFile)).ok).toBe(true);
  });

  it('does not chain to another cluster CA', async () => {
    const other = await createClusterCa(join(dir, 'other-ca'), 'other');
    const cert = await issueNodeCert({
      caDir: ca.dir,
      outDir: join(dir, 'node2'),
      commonName: 'n2',
      dnsNames: [],
      ipAddresses: ['127.0.0.1'],
    });
    expect((await verifyCert(other.certFile, cert.certFile)).ok).toBe(false);
  });

  it('replaces an existing pair on re-issue (rotation)', async () => {
    const req = {
      caDir: ca.dir,
      outDir: join(dir, 'node3'),
      commonName: 'n3',
      dnsNames: ['localhost'],
      ipAddresses: [],
    };
    const first = certInfo((await issueNodeCert(req)).certFile);
    const second = certInfo((await issueNodeCert(req)).certFile);
    expect(second.serialNumber).not.toBe(first.serialNumber);
  });

  it('rejects bad requests with a code, and a missing CA', async () => {
    const base = {
      caDir: ca.dir,
      outDir: join(dir, 'bad'),
      commonName: 'n',
      dnsNames: ['ok.local'],
      ipAddresses: ['127.0.0.1'],
    };
    expect(await codeOf(issueNodeCert({ ...base, dnsNames: ['bad name'] }))).toBe('INVALID_TLS_REQUEST');
    expect(await codeOf(issueNodeCert({ ...base, ipAddresses: ['300.1.1.1'] }))).toBe('INVALID_TLS_REQUEST');
    expect(await codeOf(issueNodeCert({ ...base, dnsNames: [], ipAddresses: [] }))).toBe('INVALID_TLS_REQUEST');
    expect(await codeOf(issueNodeCert({ ...base, commonName: 'x/O=evil' }))).toBe('INVALID_TLS_REQUEST');
    expect(await codeOf(issueNodeCert({ ...base, caDir: join(dir, 'no-ca') }))).toBe('CA_MISSING');
  });
});
