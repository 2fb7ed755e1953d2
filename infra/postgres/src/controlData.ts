import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runAsPostgresOk } from './exec.js';
import { toolchain } from './toolchain.js';

/** pg_controldata's `Key:   value` lines as a record (e.g. 'Latest checkpoint location' -> '0/3000060'). Pure. */
export function parseControlData(text: string): Record<string, string> {
  const data: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    data[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return data;
}

/** The control data of a (running or stopped) data directory, read with the major's pg_controldata. */
export async function readControlData(major: number, dataDir: string): Promise<Record<string, string>> {
  if (!existsSync(join(dataDir, 'global', 'pg_control'))) throw new Error(`${dataDir} has no pg_control`);
  // Untranslated output: the keys are what callers look up.
  const env = { LC_ALL: 'C', LANG: 'C' };
  const out = await runAsPostgresOk(toolchain(major).bin('pg_controldata'), ['-D', dataDir], { env });
  return parseControlData(out);
}
