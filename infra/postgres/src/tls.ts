import { spawn } from 'node:child_process';
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolEnvironment } from './exec.js';
import { ensureOwnedDir } from './osUser.js';
import { writeOwnedFile } from './ownedFile.js';

export type TlsErrorCode = 'INVALID_TLS_REQUEST' | 'CA_MISSING' | 'OPENSSL_FAILED';

/** A TLS material failure: a stable code and one sentence (never key material). */
export class TlsError extends Error {
  constructor(
    readonly code: TlsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TlsError';
  }
}

export interface ClusterCa {
  dir: string;
  /** The CA private key: 0600, owned by the control plane, never given to a node. */
  keyFile: string;
  /** The CA certificate clients use as `sslrootcert` (`pgfleet cluster ca NAME`). */
  certFile: string;
}

export interface NodeCertRequest {
  caDir: string;
  outDir: string;
  commonName: string;
  /** Host names clients and followers reach the node by (the gateway host names). */
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  /** Default 365. */
  days?: number;
  /** File base name in outDir: `{name}.key`, `{name}.crt`; default `server`. */
  name?: string;
}

export interface NodeCert {
  /** 0600, owned by the postgres OS user (PostgreSQL refuses a key others can read). */
  keyFile: string;
  certFile: string;
  /** A copy of the cluster CA certificate next to them, for `ssl_ca_file`. */
  caFile: string;
}

export interface CertInfo {
  subject: string;
  commonName?: string;
  issuer: string;
  dnsNames: string[];
  ipAddresses: string[];
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
  isCa: boolean;
  fingerprint256: string;
}

const OPENSSL = () => process.env.PGFLEET_OPENSSL_BIN ?? 'openssl';
const CA_KEY = 'ca.key';
const CA_CERT = 'ca.crt';
// Values land in openssl's -subj and config syntax: keep them to characters with no meaning there.
const SUBJECT_VALUE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function invalid(message: string): never {
  throw new TlsError('INVALID_TLS_REQUEST', message);
}

function openssl(args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(OPENSSL(), args, {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: toolEnvironment(),
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(new TlsError('OPENSSL_FAILED', `openssl could not run: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else
        reject(
          new TlsError(
            'OPENSSL_FAILED',
            `openssl ${args[0]} failed (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' | ')}`,
          ),
        );
    });
    if (child.stdin) {
      // openssl may exit before reading its input (it reports why on stderr): not our error.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

/**
 * A fresh EC P-256 private key, PKCS#8 PEM as `openssl genpkey` writes it (held in memory only
 * until written 0600). Made in-process: no openssl run.
 */
const newKey = (): string =>
  generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }).privateKey;

/** A random positive 128-bit serial (no serial file: issuing stays safe under concurrency). */
const serial = () => {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return `0x${b.toString('hex')}`;
};

export function clusterCaFiles(dir: string): ClusterCa {
  return { dir, keyFile: join(dir, CA_KEY), certFile: join(dir, CA_CERT) };
}

/**
 * The cluster's own CA (EC P-256, 10 years): `ca.key` (0600) and `ca.crt` in `dir`. Idempotent:
 * an existing CA is returned as is, never replaced (that would break every client's sslrootcert).
 */
export async function createClusterCa(
  dir: string,
  clusterName: string,
  options: { days?: number } = {},
): Promise<ClusterCa> {
  if (!SUBJECT_VALUE.test(clusterName))
    invalid(`cluster name "${clusterName}" must be 1-64 letters, digits, spaces, ".", "_" or "-"`);
  const ca = clusterCaFiles(dir);
  if (existsSync(ca.keyFile) && existsSync(ca.certFile)) return ca;
  // The directory is readable (the certificate is public and nodes read it); the key is not.
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const keyTmp = `${ca.keyFile}.pgfleet-new`;
  const certTmp = `${ca.certFile}.pgfleet-new`;
  writeFileSync(keyTmp, newKey(), { mode: 0o600 });
  const request = ['req', '-x509', '-new', '-sha256', '-key', keyTmp, '-out', certTmp];
  const validity = ['-days', String(options.days ?? 3650), '-set_serial', serial()];
  const subject = ['-subj', `/O=pgfleet/CN=${clusterName} CA`];
  const extensions = ['basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign'];
  await openssl([...request, ...validity, ...subject, ...extensions.flatMap((ext) => ['-addext', ext])]);
  renameSync(keyTmp, ca.keyFile);
  renameSync(certTmp, ca.certFile);
  return ca;
}

/**
 * A server certificate signed by the cluster CA (1 year by default), valid for the given host
 * names and addresses (SAN), usable for server and client auth (replication). Writes
 * `{name}.key` (0600) and `{name}.crt` and a copy of `ca.crt` into `outDir`, all owned by the
 * postgres OS user; an existing pair is replaced atomically, so a server reload (SIGHUP)
 * rotates it without downtime.
 */
export async function issueNodeCert(req: NodeCertRequest): Promise<NodeCert> {
  const name = req.name ?? 'server';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name) || name === 'ca')
    invalid(`certificate name "${name}" must be 1-64 letters, digits, "_" or "-" and not "ca"`);
  if (!SUBJECT_VALUE.test(req.commonName))
    invalid(`common name "${req.commonName}" must be 1-64 letters, digits, spaces, ".", "_" or "-"`);
  for (const d of req.dnsNames) if (!DNS_NAME.test(d) || d.length > 253) invalid(`"${d}" is not a DNS name`);
  for (const ip of req.ipAddresses) if (isIP(ip) === 0) invalid(`"${ip}" is not an IP address`);
  if (req.dnsNames.length + req.ipAddresses.length === 0)
    invalid('a node certificate needs at least one DNS name or IP address');
  const days = req.days ?? 365;
  if (!Number.isInteger(days) || days <= 0) invalid(`days must be a positive integer, got ${days}`);
  const ca = clusterCaFiles(req.caDir);
  if (!existsSync(ca.keyFile) || !existsSync(ca.certFile))
    throw new TlsError('CA_MISSING', `no cluster CA in ${req.caDir}; create it first`);

  if (!existsSync(req.outDir)) ensureOwnedDir(req.outDir);
  const out: NodeCert = {
    keyFile: join(req.outDir, `${name}.key`),
    certFile: join(req.outDir, `${name}.crt`),
    caFile: join(req.outDir, CA_CERT),
  };
  const keyTmp = `${out.keyFile}.pgfleet-new`;
  const work = await mkdtemp(join(tmpdir(), 'pgfleet-tls-'));
  try {
    writeOwnedFile(keyTmp, newKey(), 0o600);
    const san = [...req.dnsNames.map((d) => `DNS:${d}`), ...req.ipAddresses.map((ip) => `IP:${ip}`)].join(',');
    // Its own config (not openssl.cnf, whose x509_extensions would add CA ones): only these extensions.
    const config = join(work, 'req.cnf');
    writeFileSync(
      config,
      [
        '[req]',
        'distinguished_name = dn',
        'x509_extensions = v3',
        '[dn]',
        '[v3]',
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature, keyEncipherment',
        'extendedKeyUsage = serverAuth, clientAuth',
        `subjectAltName = ${san}`,
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid, issuer',
        '',
      ].join('\n'),
    );
    // One run (OpenSSL >= 3.0): the certificate is made for the key and signed by the CA at once.
    const request = ['req', '-x509', '-new', '-sha256', '-config', config, '-key', keyTmp];
    const subject = ['-subj', `/O=pgfleet/CN=${req.commonName}`];
    const signing = ['-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', serial(), '-days', String(days)];
    const cert = await openssl([...request, ...subject, ...signing]);
    writeOwnedFile(`${out.certFile}.pgfleet-new`, cert, 0o644);
    writeOwnedFile(out.caFile, readFileSync(ca.certFile, 'utf8'), 0o644);
    renameSync(keyTmp, out.keyFile);
    renameSync(`${out.certFile}.pgfleet-new`, out.certFile);
    return out;
  } finally {
    rmSync(keyTmp, { force: true });
    rmSync(`${out.certFile}.pgfleet-new`, { force: true });
    await rm(work, { recursive: true, force: true });
  }
}

/** Subject, SANs and validity of a PEM certificate file. */
export function certInfo(file: string): CertInfo {
  const x = new X509Certificate(readFileSync(file));
  const sans = (x.subjectAltName ?? '').split(/,\s*/).filter((s) => s !== '');
  const pick = (prefix: string) => sans.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length));
  return {
    subject: x.subject.split('\n').join(', '),
    commonName: /(?:^|\n)CN=([^\n]*)/.exec(x.subject)?.[1],
    issuer: x.issuer.split('\n').join(', '),
    dnsNames: pick('DNS:'),
    ipAddresses: pick('IP Address:'),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    serialNumber: x.serialNumber,
    isCa: x.ca,
    fingerprint256: x.fingerprint256,
  };
}

/** Does `certFile` chain to the CA in `caFile` (openssl verify)? Resolves with openssl's verdict. */
export async function verifyCert(caFile: string, certFile: string): Promise<{ ok: boolean; message: string }> {
  try {
    return { ok: true, message: (await openssl(['verify', '-CAfile', caFile, certFile])).trim() };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}
