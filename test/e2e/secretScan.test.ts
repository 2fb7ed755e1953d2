import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSecretStore } from '@pgfleet/postgres';
import { describeFindings, findSecrets, platformSecrets, privateKeyLines, type Secret } from './secretScan.js';

const KEY_LINE = 'MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgq7Vd2b0Jm1bq4x9Q';
const KEY_LINE_2 = 'hRANCAAT3kq0pWcUa1nM2Cq0NfVZ2b3yNn1rLq8x0pR7c2kH0r1Jm9v5Qe3d7Yb8w';
const PEM = `-----BEGIN PRIVATE KEY-----\n${KEY_LINE}\n${KEY_LINE_2}\n-----END PRIVATE KEY-----\n`;
const secrets: Secret[] = [
  { kind: 'password', label: 'secret c1/app', value: 'p4ss/w0rd+Tr1cky' },
  { kind: 'private-key', label: 'server.key (line 1)', value: KEY_LINE },
];

describe('the log scan of the e2e suite', () => {
  it('reports a password in a service output, masked, naming where it was', () => {
    const text = 'provisioning: connecting to postgres://app:p4ss/w0rd+Tr1cky@127.0.0.1:5432/app failed';
    const findings = findSecrets([{ source: '[provisioning]', text }], secrets);
    expect(findings).toEqual([
      {
        kind: 'password',
        label: 'secret c1/app',
        source: '[provisioning]',
        context: expect.stringContaining('postgres://app:<password>@127.0.0.1'),
      },
    ]);
    expect(describeFindings(findings)).not.toContain('p4ss/w0rd+Tr1cky');
  });

  it('finds a password URL-encoded too, and a private key by a line of its PEM body', () => {
    const encoded = `url=postgres://app:${encodeURIComponent('p4ss/w0rd+Tr1cky')}@h/db`;
    const texts = [
      { source: 'a', text: encoded },
      { source: 'b', text: `oops: ${PEM}` },
      { source: 'c', text: 'nothing to see here, password=<redacted>' },
    ];
    expect(findSecrets(texts, secrets).map((f) => [f.source, f.kind])).toEqual([
      ['a', 'password'],
      ['b', 'private-key'],
    ]);
  });

  it('reads the secrets of a home: secret store values and key, token files, PEM private keys', async () => {
    const home = mkdtempSync(join(tmpdir(), 'pgfleet-scan-'));
    try {
      await openSecretStore(home).put('c1/app', 'app-password-0123456789');
      writeFileSync(join(home, 'api-token'), 'api-token-0123456789\n');
      mkdirSync(join(home, 'clusters', 'c1', 'tls'), { recursive: true });
      writeFileSync(join(home, 'clusters', 'c1', 'tls', 'ca.key'), PEM);
      const found = await platformSecrets(home);
      expect(found.map((s) => s.kind).sort()).toEqual([
        'password',
        'private-key',
        'private-key',
        'secret-store-key',
        'token',
      ]);
      expect(found.find((s) => s.kind === 'password')?.value).toBe('app-password-0123456789');
      expect(privateKeyLines(PEM)).toHaveLength(2);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
