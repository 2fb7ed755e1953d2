import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** What `pgfleet up` chose on its first start, kept so the next start reuses it. */
export interface PlatformFile {
  natsPort: number;
  eventstorePort: number;
  apiPort: number;
  /** Where the HA service answers the gateways' agent checks (absent in homes made before it). */
  haAgentPort?: number;
  /** The embedded NATS server speaks only TLS, with a user per process (false with PGFLEET_NATS_INSECURE=1). */
  natsTls?: boolean;
}

export function platformHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.PGFLEET_HOME ?? '.pgfleet');
}

export function readPlatformFile(home: string): PlatformFile | undefined {
  const file = join(home, 'platform.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PlatformFile) : undefined;
}

export function writePlatformFile(home: string, value: PlatformFile): void {
  writeFileSync(join(home, 'platform.json'), `${JSON.stringify(value, null, 2)}\n`);
}

/** A random secret kept in a 0600 file under the home: generated once, then reused. */
export function fileSecret(home: string, name: string): string {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = join(home, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const value = randomBytes(24).toString('base64url');
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return value;
}

export const apiTokenOf = (home: string) => fileSecret(home, 'api-token');
