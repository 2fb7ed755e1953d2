import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Debian mirrors the system already uses for bookworm and its security suite. */
export interface DebianMirrors {
  main: string;
  security: string;
}

/** pgfleet's own source files (the host's bullseye entry) are never read as the system's. */
const OWN_FILES = new Set(['pgfleet-bullseye.sources']);

/** URIs and suites of every enabled entry of a deb822 `.sources` file. */
function deb822Entries(text: string): Array<{ uri: string; suites: string[] }> {
  return text
    .split(/\n\s*\n/)
    .map((stanza) => {
      const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(stanza)?.[1]?.trim() ?? '';
      if (/^no$/i.test(field('Enabled'))) return undefined;
      const uri = field('URIs').split(/\s+/)[0] ?? '';
      return uri ? { uri, suites: field('Suites').split(/\s+/) } : undefined;
    })
    .filter((e): e is { uri: string; suites: string[] } => e !== undefined);
}

/** URIs and suites of the `deb` lines of a one-line-style sources.list. */
function oneLineEntries(text: string): Array<{ uri: string; suites: string[] }> {
  return text.split('\n').flatMap((line) => {
    const words = line
      .replace(/\[[^\]]*\]/, ' ')
      .trim()
      .split(/\s+/);
    return words[0] === 'deb' && words[1] && words[2] ? [{ uri: words[1], suites: [words[2]] }] : [];
  });
}

/**
 * Read the system's bookworm mirrors at run time (never a hard-coded host): the first enabled
 * source of `bookworm` and of `bookworm-security`, from `/etc/apt/sources.list.d/*.sources`, else
 * `/etc/apt/sources.list`. Throws when either is missing.
 */
export function debianMirrors(aptDir = '/etc/apt'): DebianMirrors {
  const entries: Array<{ uri: string; suites: string[] }> = [];
  const dir = join(aptDir, 'sources.list.d');
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.sources') && !OWN_FILES.has(f))
        entries.push(...deb822Entries(readFileSync(join(dir, f), 'utf8')));
    }
  }
  const list = join(aptDir, 'sources.list');
  if (existsSync(list)) entries.push(...oneLineEntries(readFileSync(list, 'utf8')));
  const main = entries.find((e) => e.suites.includes('bookworm'))?.uri;
  const security = entries.find((e) => e.suites.includes('bookworm-security'))?.uri;
  if (!main || !security) {
    throw new Error(`no Debian bookworm ${main ? 'security ' : ''}mirror found in ${aptDir}/sources.list(.d)`);
  }
  return { main, security };
}
