import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerHosts, RuntimeSelectionError, runtimeKind } from './dockerHosts.js';
import { createNodeRuntime } from './selectRuntime.js';

const dir = mkdtempSync(join(tmpdir(), 'pgfleet-hosts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('PGFLEET_RUNTIME and PGFLEET_DOCKER_HOSTS', () => {
  it('defaults to the process runtime and refuses an unknown one in one sentence', () => {
    expect(runtimeKind({})).toBe('process');
    expect(runtimeKind({ PGFLEET_RUNTIME: 'docker' })).toBe('docker');
    expect(() => runtimeKind({ PGFLEET_RUNTIME: 'k8s' })).toThrow(
      new RuntimeSelectionError('PGFLEET_RUNTIME must be "process" or "docker", not "k8s"'),
    );
  });

  it("without hosts: the Podman service under the home's podman directory", () => {
    expect(dockerHosts('/srv/pgfleet', {}).map((h) => h.name)).toEqual(['unix:///srv/pgfleet/podman/podman.sock']);
  });

  it('lists unix sockets and TLS endpoints in order; TCP without its TLS files is refused', () => {
    const files = Object.fromEntries(
      ['CA', 'CERT', 'KEY'].map((k) => {
        writeFileSync(join(dir, `${k}.pem`), `${k}\n`);
        return [`PGFLEET_DOCKER_TLS_${k}`, join(dir, `${k}.pem`)];
      }),
    );
    const hosts = dockerHosts('/srv/pgfleet', {
      PGFLEET_DOCKER_HOSTS: 'unix:///run/a.sock, tcp://10.0.0.5:2376',
      ...files,
    });
    expect(hosts.map((h) => h.name)).toEqual(['unix:///run/a.sock', 'tcp://10.0.0.5:2376']);
    expect(() => dockerHosts('/h', { PGFLEET_DOCKER_HOSTS: 'tcp://10.0.0.5:2376' })).toThrow(
      /needs PGFLEET_DOCKER_TLS_CA, PGFLEET_DOCKER_TLS_CERT, PGFLEET_DOCKER_TLS_KEY/,
    );
    expect(() => dockerHosts('/h', { PGFLEET_DOCKER_HOSTS: 'http://x' })).toThrow(/neither unix/);
    expect(() => dockerHosts('/h', { PGFLEET_DOCKER_HOSTS: 'unix:///a,unix:///a' })).toThrow(/twice/);
  });

  it('several hosts make a multi-host runtime; a TCP host must be named by the address its peers reach', () => {
    const files = Object.fromEntries(
      ['CA', 'CERT', 'KEY'].map((k) => [`PGFLEET_DOCKER_TLS_${k}`, join(dir, `${k}.pem`)]),
    );
    for (const k of ['CA', 'CERT', 'KEY']) writeFileSync(join(dir, `${k}.pem`), `${k}\n`);
    const env = { PGFLEET_RUNTIME: 'docker', ...files };
    const quiet = () => undefined;
    const two = createNodeRuntime({
      home: dir,
      log: quiet,
      env: { ...env, PGFLEET_DOCKER_HOSTS: 'tcp://10.0.0.5:2376,tcp://10.0.0.6:2376' },
    });
    expect(two.hosts).toBeDefined();
    const named = { ...env, PGFLEET_DOCKER_HOSTS: 'tcp://10.0.0.5:2376,tcp://docker.example:2376' };
    const refused = () => createNodeRuntime({ home: dir, log: quiet, env: named });
    expect(refused).toThrow(RuntimeSelectionError);
    expect(refused).toThrow(/tcp:\/\/docker\.example:2376: name it by its IPv4 address/);
  });
});
