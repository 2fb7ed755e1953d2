import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { generatePassword, openSecretStore, SecretStoreError } from './secrets.js';

const homes: string[] = [];
const home = () => {
  const h = mkdtempSync(join(tmpdir(), 'pgfleet-secrets-'));
  homes.push(h);
  return h;
};
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});
const mode = (p: string) => statSync(p).mode & 0o777;

describe('openSecretStore', () => {
  it('round-trips a secret and keeps only ciphertext on disk', async () => {
    const h = home();
    const store = openSecretStore(h);
    await store.put('cluster/c1/app', 'p4ss:word');
    expect(await store.get('cluster/c1/app')).toBe('p4ss:word');
    const files = readdirSync(join(h, 'secrets', 'items'));
    expect(files).toHaveLength(1);
    expect(readFileSync(join(h, 'secrets', 'items', files[0]!)).includes(Buffer.from('p4ss:word'))).toBe(false);
  });

  it('creates the key 0600 in a 0700 directory and every secret file 0600', async () => {
    const h = home();
    await openSecretStore(h).put('a', 'x');
    expect(mode(join(h, 'secrets'))).toBe(0o700);
    expect(mode(join(h, 'secrets', 'key'))).toBe(0o600);
    expect(mode(join(h, 'secrets', 'items', 'a'))).toBe(0o600);
  });

  it('reuses the key across openings', async () => {
    const h = home();
    await openSecretStore(h).put('a', 'first');
    expect(await openSecretStore(h).get('a')).toBe('first');
  });

  it('returns undefined for a missing secret and after delete', async () => {
    const store = openSecretStore(home());
    expect(await store.get('nope')).toBeUndefined();
    await store.put('gone', 'v');
    await store.delete('gone');
    expect(await store.get('gone')).toBeUndefined();
  });

  it('fails to decrypt with another key', async () => {
    const h = home();
    await openSecretStore(h).put('a', 'secret');
    writeFileSync(join(h, 'secrets', 'key'), randomBytes(32).toString('base64'));
    await expect(openSecretStore(h).get('a')).rejects.toMatchObject({ code: 'DECRYPT_FAILED' });
  });

  it('binds a secret to its ref', async () => {
    const h = home();
    const store = openSecretStore(h);
    await store.put('a', 'secret');
    const items = join(h, 'secrets', 'items');
    writeFileSync(join(items, 'b'), readFileSync(join(items, 'a')));
    await expect(store.get('b')).rejects.toBeInstanceOf(SecretStoreError);
  });

  it('rejects refs that could escape the store', async () => {
    const store = openSecretStore(home());
    await expect(store.put('../key', 'x')).rejects.toMatchObject({ code: 'INVALID_REF' });
    await expect(store.get('a//b')).rejects.toMatchObject({ code: 'INVALID_REF' });
  });
});

describe('generatePassword', () => {
  it('gives letters and digits of the asked length, different each time', () => {
    const a = generatePassword();
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(generatePassword(12)).toHaveLength(12);
    expect(generatePassword()).not.toBe(a);
  });
});
