import { describe, expect, it } from 'vitest';
import {
  expireArgs,
  archiveSettings,
  parsePgBackRestInfo,
  pgBackRestArgs,
  pgBackRestError,
  pgBackRestPaths,
  pgBackRestTime,
  renderPgBackRestConfig,
  restoreCommand,
} from './pgbackrest.js';

const paths = pgBackRestPaths('/var/lib/pgfleet/abc');

describe('pgBackRest files and command lines', () => {
  it('keeps every file under the data root, the repository where it is asked to be', () => {
    expect(paths).toMatchObject({
      repo: '/var/lib/pgfleet/abc/pitr/repo',
      config: '/var/lib/pgfleet/abc/pitr/pgbackrest.conf',
    });
    expect(pgBackRestPaths('/r', '/mnt/repo').repo).toBe('/mnt/repo');
    const conf = renderPgBackRestConfig(paths);
    expect(conf).toContain('[global]\nlock-path=/var/lib/pgfleet/abc/pitr/lock\n');
    expect(conf).toMatch(/^archive-async=y$/m);
    expect(conf).toMatch(/^spool-path=\/var\/lib\/pgfleet\/abc\/pitr\/spool$/m);
  });

  it('names our configuration, an empty include path and the repository on every command line', () => {
    expect(pgBackRestArgs(paths, 's1')).toEqual([
      '--config=/var/lib/pgfleet/abc/pitr/pgbackrest.conf',
      '--config-include-path=/var/lib/pgfleet/abc/pitr/conf.d',
      '--repo1-path=/var/lib/pgfleet/abc/pitr/repo',
      '--stanza=s1',
    ]);
    expect(pgBackRestArgs(paths, 's1', 'stop')).not.toContain('--repo1-path=/var/lib/pgfleet/abc/pitr/repo');
    expect(() => pgBackRestArgs(paths, 'a b')).toThrow(/stanza "a b"/);
  });

  it('renders archive_command and restore_command for a node, shell-quoted where needed', () => {
    const s = archiveSettings(paths, 's1', '/d/data');
    expect(s.archive_mode).toBe('on');
    expect(s.archive_timeout).toBe('60');
    expect(s.archive_command).toBe(
      [
        "'/usr/bin/pgbackrest --config=/var/lib/pgfleet/abc/pitr/pgbackrest.conf",
        '--config-include-path=/var/lib/pgfleet/abc/pitr/conf.d --repo1-path=/var/lib/pgfleet/abc/pitr/repo',
        '--stanza=s1 --pg1-path=/d/data --spool-path=/var/lib/pgfleet/abc/pitr/spool/019abe7c49808db3',
        "--lock-path=/var/lib/pgfleet/abc/pitr/lock/019abe7c49808db3 archive-push %p'",
      ].join(' '),
    );
    // Each node its own spool and lock: another node's asynchronous archive process never holds them.
    expect(archiveSettings(paths, 's1', '/d/other').archive_command).not.toContain('019abe7c49808db3');
    expect(s.restore_command).toMatch(/^'test ! -f \/d\/data\/pgfleet.cloned && \/usr\/bin\/pgbackrest /);
    expect(s.restore_command).toMatch(/--lock-path=\S+ archive-get %f "%p"'$/);
    expect(restoreCommand(pgBackRestPaths("/it's"), 's', '/d')).toContain(`'--config=/it'\\''s/pitr/pgbackrest.conf'`);
  });
});

describe('pgBackRest retention', () => {
  it('expires by time, keeping the full backups of the last whole number of days', () => {
    expect(expireArgs(7)).toEqual(['--repo1-retention-full-type=time', '--repo1-retention-full=7']);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => expireArgs(bad)).toThrow(/whole number ≥ 1/);
  });
});

describe('pgBackRest time targets', () => {
  it('converts an instant with an offset to UTC, keeping microseconds', () => {
    expect(pgBackRestTime('2026-11-30T10:15:00.123456+01:00')).toEqual({
      target: '2026-11-30 09:15:00.123456+00',
      epochMs: Date.parse('2026-11-30T09:15:00.123Z') + 0.456,
    });
    expect(pgBackRestTime('2026-11-30 23:59:59Z').target).toBe('2026-11-30 23:59:59+00');
    expect(pgBackRestTime('2026-11-30 19:03:00.5-0330').target).toBe('2026-11-30 22:33:00.5+00');
    expect(pgBackRestTime('2026-11-30 19:03:00.5+00').target).toBe('2026-11-30 19:03:00.5+00');
  });

  it('refuses a time without an offset', () => {
    expect(() => pgBackRestTime('2026-11-30T10:15:00')).toThrow(/with an offset/);
  });
});

const infoJson = (status: { code: number; message: string }, extra: object = {}) =>
  JSON.stringify([{ name: 's1', status, ...extra }]);

describe('pgbackrest info --output=json', () => {
  it('parses backups oldest first, the WAL range and the system', () => {
    const json = infoJson(
      { code: 0, message: 'ok' },
      {
        archive: [
          { id: '13-1', min: '000000010000000000000002', max: '000000010000000000000009' },
          { id: '15-2', min: '000000010000000000000001', max: '000000020000000000000004' },
        ],
        backup: [
          {
            label: '20261130-190945F',
            type: 'full',
            timestamp: { start: 1796065785, stop: 1796065800 },
            info: { size: 22_900_000, repository: { size: 3_000_000, delta: 3_000_000 }, delta: 22_900_000 },
            archive: { start: '000000020000000000000002', stop: '000000020000000000000003' },
          },
        ],
        db: [
          { id: 1, 'system-id': 'SYSTEM1', version: '13' },
          { id: 2, 'system-id': 'SYSTEM2', version: '15' },
        ],
      },
    );
    const raw = json.replace('"SYSTEM1"', '7000000000000000001').replace('"SYSTEM2"', '7444855535915219513');
    const info = parsePgBackRestInfo(raw, 's1');
    expect(info.systemId).toBe('7444855535915219513');
    expect(info).toMatchObject({ stanza: 's1', status: 'ok', walMin: '000000010000000000000002' });
    expect(info.walMax).toBe('000000020000000000000004');
    expect(info.message).toBeUndefined();
    expect(info.backups).toEqual([
      {
        label: '20261130-190945F',
        type: 'full',
        startedAt: new Date(1796065785000).toISOString(),
        stoppedAt: new Date(1796065801000).toISOString(),
        sizeBytes: 22_900_000,
        repoSizeBytes: 3_000_000,
        walStart: '000000020000000000000002',
        walStop: '000000020000000000000003',
        timeline: 2,
      },
    ]);
  });

  it('says missing for a repository without the stanza, error with the message otherwise', () => {
    expect(parsePgBackRestInfo(infoJson({ code: 1, message: 'missing stanza path' }), 's1')).toMatchObject({
      status: 'missing',
      backups: [],
    });
    expect(parsePgBackRestInfo('[]', 's1').status).toBe('missing');
    expect(parsePgBackRestInfo(infoJson({ code: 2, message: 'no valid backups' }), 's1')).toMatchObject({
      status: 'ok',
      message: 'no valid backups',
    });
    expect(parsePgBackRestInfo(infoJson({ code: 99, message: 'other' }), 's1')).toMatchObject({ status: 'error' });
  });
});

describe("pgBackRest's reason", () => {
  it('takes the ERROR line and its hints', () => {
    const out = [
      '2026-11-30 19:00:00.000 P00   INFO: check command begin',
      'ERROR: [082]: WAL segment 000000010000000000000003 was not archived before the 60000ms timeout',
      '       HINT: check the archive_command.',
      '2026-11-30 19:00:00.000 P00   INFO: check command end: aborted with exception [082]',
    ].join('\n');
    expect(pgBackRestError(out)).toBe(
      'ERROR: [082]: WAL segment 000000010000000000000003 was not archived before the 60000ms timeout ' +
        'HINT: check the archive_command.',
    );
    expect(pgBackRestError('a\nb\nc\nd')).toBe('b | c | d');
  });
});
