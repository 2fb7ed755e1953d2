import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { openSecretStore } from '@pgfleet/postgres';

/**
 * The log scan of the e2e suite: no cluster password, API token, TLS private key or secret-store
 * key may appear in what the platform prints (services, `up`, servers' logs) or stores as events.
 */

export interface Secret {
  kind: 'password' | 'token' | 'private-key' | 'secret-store-key';
  /** Where it comes from (a secret ref, a file name): named in a finding, never the value. */
  label: string;
  value: string;
}

/** A text the platform produced: a service's output, a server log, the events table. */
export interface Scanned {
  source: string;
  text: string;
}

export interface Finding {
  kind: Secret['kind'];
  label: string;
  source: string;
  /** Where in the source, the secret itself masked. */
  context: string;
}

/** Shorter values are not looked for: they would match by chance (and no generated secret is that short). */
const MIN_LENGTH = 12;

/** The forms a value takes in output: as is, and URL-encoded (in a connection URL). */
const formsOf = (value: string) =>
  [...new Set([value, encodeURIComponent(value)])].filter((v) => v.length >= MIN_LENGTH);

/** The body lines of every private key in a PEM text: each is long and random enough to stand for the key. */
export function privateKeyLines(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g) ?? [];
  return blocks.flatMap((block) =>
    block
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => !l.startsWith('-----') && l.length >= 40),
  );
}

/** Every appearance of a secret in the texts, masked. */
export function findSecrets(texts: readonly Scanned[], secrets: readonly Secret[]): Finding[] {
  const findings: Finding[] = [];
  for (const { source, text } of texts) {
    for (const secret of secrets) {
      const form = formsOf(secret.value).find((f) => text.includes(f));
      if (form === undefined) continue;
      const at = text.indexOf(form);
      const before = text.slice(Math.max(0, at - 40), at);
      const after = text.slice(at + form.length, at + form.length + 40);
      const context = `${before}<${secret.kind}>${after}`;
      findings.push({ kind: secret.kind, label: secret.label, source, context: context.replace(/\s+/g, ' ') });
    }
  }
  return findings;
}

/** One sentence per finding, for a test failure. */
export const describeFindings = (findings: readonly Finding[]) =>
  findings.map((f) => `${f.kind} ${f.label} appears in ${f.source}: …${f.context}…`).join('\n');

/** Directories the walk never enters: databases, WAL, JetStream and backup payloads. */
const SKIP_DIRS = new Set(['base', 'global', 'pg_wal', 'pg_xact', 'pg_multixact', 'nats', 'backups', 'archive']);

/** Files under `dir` (a bounded walk) whose name passes `want`. */
function filesUnder(dir: string, want: (name: string) => boolean, depth = 8): string[] {
  if (depth === 0 || !existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && !SKIP_DIRS.has(entry.name)) out.push(...filesUnder(path, want, depth - 1));
    else if (entry.isFile() && want(entry.name)) out.push(path);
  }
  return out;
}

const readSmall = (file: string) => (statSync(file).size < 1_000_000 ? readFileSync(file, 'utf8') : '');

/**
 * The platform's secrets as they are now under `home`: every value of the secret store (cluster
 * passwords, whatever else it keeps) and its key, the token and password files at the home's top
 * (API token, event store password), every PEM private key (cluster CAs, nodes, NATS).
 */
export async function platformSecrets(home: string): Promise<Secret[]> {
  const secrets: Secret[] = [];
  const items = join(home, 'secrets', 'items');
  if (existsSync(items)) {
    const store = openSecretStore(home);
    for (const file of readdirSync(items)) {
      const ref = decodeURIComponent(file);
      const value = await store.get(ref).catch(() => undefined);
      if (value) secrets.push({ kind: 'password', label: `secret ${ref}`, value });
    }
    const key = readFileSync(join(home, 'secrets', 'key'), 'utf8').trim();
    secrets.push({ kind: 'secret-store-key', label: 'secrets/key', value: key });
  }
  for (const name of ['api-token', 'admin-token', 'eventstore-password']) {
    const file = join(home, name);
    if (existsSync(file)) {
      const kind = name.endsWith('token') ? 'token' : 'password';
      secrets.push({ kind, label: name, value: readFileSync(file, 'utf8').trim() });
    }
  }
  for (const file of filesUnder(home, (n) => n.endsWith('.key') || n.endsWith('.pem'))) {
    const lines = privateKeyLines(readSmall(file));
    for (const [i, value] of lines.entries()) {
      secrets.push({ kind: 'private-key', label: `${file} (line ${i + 1})`, value });
    }
  }
  return secrets;
}

/** The server logs under `home`: every node's and the event store's. */
export function serverLogs(home: string): Scanned[] {
  return filesUnder(home, (n) => n.endsWith('.log')).map((file) => ({ source: file, text: readSmall(file) }));
}

/** The stored events (and parked ones) as text; none when the store cannot be reached. */
export async function storedEvents(eventstoreUrl: string | undefined): Promise<Scanned[]> {
  if (!eventstoreUrl) return [];
  // Bounded: a test may have stopped or frozen the store (SIGSTOP); then its events are not read.
  const client = new pg.Client({
    connectionString: eventstoreUrl,
    connectionTimeoutMillis: 3000,
    query_timeout: 10_000,
  });
  try {
    await client.connect();
    const texts: Scanned[] = [];
    for (const table of ['events', 'parked_events']) {
      const rows = await client.query<{ t: string }>(
        `SELECT string_agg(e::text, E'\\n') AS t FROM pgfleet_eventstore.${table} e`,
      );
      texts.push({ source: `the event store (${table})`, text: rows.rows[0]?.t ?? '' });
    }
    return texts;
  } catch {
    return [];
  } finally {
    // A frozen server never answers the goodbye either.
    await Promise.race([client.end().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  }
}
