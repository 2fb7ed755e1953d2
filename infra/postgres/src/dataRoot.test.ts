import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DATA_ROOT_RECORD,
  dataRoot,
  DataRootError,
  decideDataRoot,
  firstUnsearchable,
  placedDataRoot,
  type DataRootFacts,
} from './dataRoot.js';
import { ownedTempDir } from './osUser.js';

const facts = (given: Partial<DataRootFacts> = {}): DataRootFacts => ({
  home: '/root/pgfleet/.pgfleet',
  base: '/var/lib/pgfleet',
  homeHoldsData: false,
  ...given,
});

describe('decideDataRoot', () => {
  it('keeps the data in a home the postgres OS user reaches (the layout of before)', () => {
    expect(decideDataRoot(facts())).toEqual({ root: '/root/pgfleet/.pgfleet', reason: 'home' });
  });

  it('places the data of a home out of its reach in a directory of its own under the base', () => {
    const decision = decideDataRoot(facts({ homeBlocker: '/root' }));
    expect(decision).toEqual({ root: placedDataRoot('/root/pgfleet/.pgfleet'), reason: 'placed' });
    expect(placedDataRoot('/root/pgfleet/.pgfleet')).toMatch(/^\/var\/lib\/pgfleet\/[0-9a-f]{16}$/);
  });

  it('names the placed directory by the home: the same home gets the same one, another home another one', () => {
    expect(placedDataRoot('/root/a/.pgfleet')).toBe(placedDataRoot('/root/a/.pgfleet'));
    expect(placedDataRoot('/root/a/.pgfleet')).not.toBe(placedDataRoot('/root/b/.pgfleet'));
    expect(placedDataRoot('/root/a/.pgfleet', '/srv/pg')).toMatch(/^\/srv\/pg\/[0-9a-f]{16}$/);
  });

  it('leaves PostgreSQL data a home already holds where it is, even out of reach', () => {
    expect(decideDataRoot(facts({ homeBlocker: '/root', homeHoldsData: true }))).toMatchObject({ reason: 'home' });
  });

  it('follows PGFLEET_DATA_ROOT when nothing is recorded yet', () => {
    expect(decideDataRoot(facts({ requested: '/srv/pgfleet', homeBlocker: '/root' }))).toEqual({
      root: '/srv/pgfleet',
      reason: 'requested',
    });
  });

  it('follows the record over everything else: a home that became reachable keeps its placed data', () => {
    const recorded = '/var/lib/pgfleet/0123456789abcdef';
    expect(decideDataRoot(facts({ recorded }))).toEqual({ root: recorded, reason: 'recorded' });
    expect(decideDataRoot(facts({ recorded, requested: recorded }))).toEqual({ root: recorded, reason: 'recorded' });
  });

  it('refuses a PGFLEET_DATA_ROOT that contradicts the record', () => {
    const decision = decideDataRoot(facts({ recorded: '/var/lib/pgfleet/0123456789abcdef', requested: '/srv/x' }));
    expect(decision).toMatchObject({ code: 'DATA_ROOT_CONFLICT' });
    expect('message' in decision && decision.message).toContain('/srv/x');
  });
});

const asRoot = process.getuid?.() === 0;
const mode = (p: string) => statSync(p).mode & 0o7777;

describe.runIf(asRoot)('dataRoot on real directories', () => {
  const dirs: string[] = [];
  /** A root-owned 0700 directory, like root's home on Debian, with a home inside. */
  const privateDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgfleet-0700-'));
    dirs.push(dir);
    chmodSync(dir, 0o700);
    return dir;
  };
  const homeIn = (dir: string) => {
    const home = join(dir, 'clone', '.pgfleet');
    mkdirSync(home, { recursive: true, mode: 0o755 });
    return home;
  };
  const scratch = () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgfleet-base-'));
    dirs.push(dir);
    chmodSync(dir, 0o755);
    return dir;
  };
  const recordOf = (home: string) => readFileSync(join(home, DATA_ROOT_RECORD), 'utf8').trim();

  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('names the 0700 directory that keeps the postgres OS user out, and nothing for a reachable path', async () => {
    const dir = privateDir();
    expect(firstUnsearchable(homeIn(dir))).toBe(dir);
    expect(firstUnsearchable(await ownedTempDir())).toBeUndefined();
    expect(firstUnsearchable(join(scratch(), 'not', 'yet'))).toBeUndefined();
  });

  it('places a home under a 0700 directory in a 0711 directory of its own, records it, and leaves 0700 alone', () => {
    const dir = privateDir();
    const home = homeIn(dir);
    const base = join(scratch(), 'var-lib-pgfleet');
    const root = dataRoot(home, { env: {}, base });
    expect(root).toBe(placedDataRoot(home, base));
    expect(mode(base)).toBe(0o711);
    expect(mode(root)).toBe(0o711);
    expect(statSync(root).uid).toBe(0);
    expect(firstUnsearchable(root)).toBeUndefined();
    expect(recordOf(home)).toBe(root);
    expect(readFileSync(join(root, 'pgfleet-home'), 'utf8').trim()).toBe(home);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'clone'))).toBe(0o755);
  });

  it('keeps the recorded choice when the modes change later', () => {
    const dir = privateDir();
    const home = homeIn(dir);
    const base = join(scratch(), 'roots');
    const root = dataRoot(home, { env: {}, base });
    chmodSync(dir, 0o755);
    expect(dataRoot(home, { env: {}, base })).toBe(root);
    expect(dataRoot(home, { env: { PGFLEET_DATA_ROOT: root } })).toBe(root);
  });

  it('keeps a reachable home as the data root and records it as itself, so a moved home keeps its data', async () => {
    const home = await ownedTempDir('pgfleet-reachable-');
    dirs.push(home);
    const base = join(scratch(), 'roots');
    expect(dataRoot(home, { env: {}, base })).toBe(home);
    expect(recordOf(home)).toBe('.');
    const moved = `${home}-moved`;
    dirs.push(moved);
    renameSync(home, moved);
    expect(dataRoot(moved, { env: {}, base })).toBe(moved);
  });

  it('refuses a record that names no absolute path', async () => {
    const home = await ownedTempDir('pgfleet-badrecord-');
    dirs.push(home);
    writeFileSync(join(home, DATA_ROOT_RECORD), 'somewhere\n');
    expect(() => dataRoot(home, { env: {} })).toThrow(expect.objectContaining({ code: 'DATA_ROOT_RECORD_INVALID' }));
  });

  it('keeps an unreachable home that already holds nodes as their data root', () => {
    const dir = privateDir();
    const home = homeIn(dir);
    mkdirSync(join(home, 'clusters', 'c1', 'n1'), { recursive: true });
    writeFileSync(join(home, 'clusters', 'c1', 'n1', 'node.json'), '{}');
    expect(dataRoot(home, { env: {}, base: join(scratch(), 'roots') })).toBe(home);
  });

  it('creates the PGFLEET_DATA_ROOT directory, and refuses it later when it names another one', () => {
    const dir = privateDir();
    const home = homeIn(dir);
    const wanted = join(scratch(), 'pg', 'data');
    expect(dataRoot(home, { env: { PGFLEET_DATA_ROOT: wanted } })).toBe(wanted);
    expect(mode(wanted)).toBe(0o711);
    expect(dataRoot(home, { env: {} })).toBe(wanted);
    const other = join(scratch(), 'other');
    expect(() => dataRoot(home, { env: { PGFLEET_DATA_ROOT: other } })).toThrow(DataRootError);
    expect(() => dataRoot(home, { env: { PGFLEET_DATA_ROOT: other } })).toThrow(/unset PGFLEET_DATA_ROOT/);
  });

  it('refuses a PGFLEET_DATA_ROOT the postgres OS user cannot reach, naming the directory in the way', () => {
    const dir = privateDir();
    const home = homeIn(dir);
    const unreachable = join(privateDir(), 'data');
    let error: unknown;
    try {
      dataRoot(home, { env: { PGFLEET_DATA_ROOT: unreachable } });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'DATA_ROOT_UNREACHABLE' });
    expect((error as Error).message).toContain(`${dirname(unreachable)} is not searchable`);
  });
});
