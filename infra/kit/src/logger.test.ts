import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactUrl, withCorrelation } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, destination };
}

describe('logger', () => {
  it('writes one JSON line per entry with the service, level and message', () => {
    const { lines, destination } = capture();
    const log = createLogger('backup', 'info', { destination });
    log.info({ clusterId: 'c1' }, 'backup requested');
    log.debug('not written at info');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ service: 'backup', level: 'info', msg: 'backup requested', clusterId: 'c1' });
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('a correlated child carries the correlation id on every line', () => {
    const { lines, destination } = capture();
    const log = withCorrelation(createLogger('api', 'debug', { destination }), 'corr-42', { command: 'CreateCluster' });
    log.info('accepted');
    log.debug('appended');
    expect(lines.map((l) => [l.correlationId, l.command, l.service])).toEqual([
      ['corr-42', 'CreateCluster', 'api'],
      ['corr-42', 'CreateCluster', 'api'],
    ]);
  });

  it('never writes a password, secret or token, at the top level or nested', () => {
    const { lines, destination } = capture();
    const log = createLogger('provisioning', 'info', { destination });
    log.info({ password: 'hunter2', user: 'app' }, 'top level');
    log.info(
      { db: { password: 'hunter2', host: 'h' }, token: 'tok-123', req: { headers: { authorization: 'Bearer abc' } } },
      'nested',
    );
    log.info({ cluster: { tls: { privateKey: 'PEM-KEY' }, secret: 's3' } }, 'deeper');
    const text = JSON.stringify(lines);
    for (const secret of ['hunter2', 'tok-123', 'Bearer abc', 'PEM-KEY', '"s3"']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ password: '[redacted]', user: 'app' });
    expect(lines[1]).toMatchObject({
      db: { password: '[redacted]', host: 'h' },
      token: '[redacted]',
      req: { headers: { authorization: '[redacted]' } },
    });
  });

  it('redactUrl hides the password of a connection URL', () => {
    expect(redactUrl('postgres://app:s3cr3t@127.0.0.1:5432/db')).toBe('postgres://app:[redacted]@127.0.0.1:5432/db');
    expect(redactUrl('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
    expect(redactUrl('not a url')).toBe('[unparseable url]');
  });
});
