import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  describeFindings,
  findSecrets,
  platformSecrets,
  serverLogs,
  storedEvents,
  type Finding,
  type Scanned,
} from './secretScan.js';

/**
 * The platforms the harness started (`startPlatform`, `spawnUp`), watched for secrets: after every
 * e2e test (logScan.setup.ts) and when a platform is cleaned up, what each printed, its servers'
 * logs and its events are scanned for its secrets. A test in whose time a secret appeared fails.
 */
interface Watched {
  /** Everything the platform printed so far: `up`, every service, the CLI's stderr. */
  output(): Scanned[];
  /** The event store, while the platform runs. */
  eventstoreUrl(): string | undefined;
}

const watched = new Map<string, Watched>();
/** Findings already reported (one failure per leak, not one per later test). */
const reported = new Set<string>();

/** The URL of the event store `up` runs for this home (its port and password are in the home). */
export function localEventstoreUrl(home: string): string | undefined {
  try {
    const { eventstorePort } = JSON.parse(readFileSync(join(home, 'platform.json'), 'utf8')) as {
      eventstorePort: number;
    };
    const password = readFileSync(join(home, 'eventstore-password'), 'utf8').trim();
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${eventstorePort}/pgfleet`;
  } catch {
    return undefined; // not started yet, or an external event store
  }
}

export function watchPlatform(home: string, platform: Watched): void {
  watched.set(home, platform);
}

export function unwatchPlatform(home: string): void {
  watched.delete(home);
}

/** The findings of one platform's home: its output, its servers' logs, its events. */
async function scanPlatform(home: string, platform: Watched): Promise<Finding[]> {
  if (!existsSync(home)) return [];
  const secrets = await platformSecrets(home);
  if (secrets.length === 0) return [];
  const texts = [...platform.output(), ...serverLogs(home), ...(await storedEvents(platform.eventstoreUrl()))];
  return findSecrets(texts, secrets);
}

/** Scan every watched platform (or only `home`); throws naming each new finding (masked). */
export async function scanWatched(home?: string): Promise<void> {
  const fresh: Finding[] = [];
  for (const [h, platform] of watched) {
    if (home !== undefined && h !== home) continue;
    for (const f of await scanPlatform(h, platform)) {
      const key = `${h}\0${f.label}\0${f.source}`;
      if (reported.has(key)) continue;
      reported.add(key);
      fresh.push(f);
    }
  }
  if (fresh.length > 0)
    throw new Error(`secrets leaked into the platform's output or events:\n${describeFindings(fresh)}`);
}
