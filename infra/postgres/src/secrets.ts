import { createCipheriv, createDecipheriv, randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Passwords and other secrets, encrypted at rest. Events carry only the `ref`. */
export interface SecretStore {
  put(ref: string, value: string): Promise<void>;
  /** The secret, or undefined when none is stored under `ref`. */
  get(ref: string): Promise<string | undefined>;
  delete(ref: string): Promise<void>;
}

export type SecretStoreErrorCode = 'INVALID_REF' | 'DECRYPT_FAILED' | 'BAD_KEY';

export class SecretStoreError extends Error {
  constructor(
    readonly code: SecretStoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SecretStoreError';
  }
}

const REF = /^[A-Za-z0-9][A-Za-z0-9._:-]*(\/[A-Za-z0-9][A-Za-z0-9._:-]*)*$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAGIC = Buffer.from('pgfs1');

function loadOrCreateKey(dir: string): Buffer {
  const keyFile = join(dir, 'key');
  try {
    // 'wx': exactly one opener creates the key, even when two processes start together.
    writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  chmodSync(keyFile, 0o600);
  const key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new SecretStoreError('BAD_KEY', `the secret store key ${keyFile} is not a 256-bit key`);
  return key;
}

/**
 * The secret store under `${homeDir}/secrets` (dir 0700): AES-256-GCM with a key generated on
 * first use in `secrets/key` (0600); one file per secret (0600), the ref bound as associated
 * data so a file moved to another ref does not decrypt.
 */
export function openSecretStore(homeDir: string): SecretStore {
  const dir = join(homeDir, 'secrets');
  const items = join(dir, 'items');
  mkdirSync(items, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  chmodSync(items, 0o700);
  const key = loadOrCreateKey(dir);

  const fileOf = (ref: string) => {
    if (!REF.test(ref) || ref.length > 200) {
      throw new SecretStoreError(
        'INVALID_REF',
        `secret ref "${ref}" must be segments of letters, digits, ".", "_", ":" or "-" separated by "/"`,
      );
    }
    return join(items, encodeURIComponent(ref));
  };

  return {
    async put(ref, value) {
      const file = fileOf(ref);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(ref));
      const ct = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      writeFileSync(tmp, Buffer.concat([MAGIC, iv, cipher.getAuthTag(), ct]), { mode: 0o600 });
      renameSync(tmp, file);
    },
    async get(ref) {
      const file = fileOf(ref);
      let blob: Buffer;
      try {
        blob = readFileSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      try {
        if (!blob.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('bad header');
        const iv = blob.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
        const tag = blob.subarray(MAGIC.length + IV_BYTES, MAGIC.length + IV_BYTES + TAG_BYTES);
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAAD(Buffer.from(ref));
        decipher.setAuthTag(tag);
        return Buffer.concat([
          decipher.update(blob.subarray(MAGIC.length + IV_BYTES + TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new SecretStoreError('DECRYPT_FAILED', `secret "${ref}" cannot be decrypted with this store's key`);
      }
    },
    async delete(ref) {
      rmSync(fileOf(ref), { force: true });
    },
  };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random password of letters and digits (safe in URLs, conninfo strings and shells). */
export function generatePassword(length = 32): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}
