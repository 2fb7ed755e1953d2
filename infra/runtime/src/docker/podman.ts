import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { childEnv, pidAlive } from '@pgfleet/postgres';

/**
 * A Podman API service standing in for a Docker host: Podman serves the Docker Engine API, which
 * dockerode drives unchanged. Everything it keeps lives under its directory (`podman.sock`, image
 * and container storage, network definitions, its log), so two services are two separate hosts.
 */
export interface PodmanService {
  dir: string;
  /** The Docker Engine API endpoint (a unix socket path). */
  socketPath: string;
  pid: number;
  /**
   * SIGTERM the service and wait for it to exit. Containers it started keep running (their
   * conmon is not its child): remove them first when they must go.
   */
  stop(): Promise<void>;
  /** Stop, unmount what the service left mounted under its directory (its storage), remove the directory. */
  purge(): Promise<void>;
}

export interface PodmanServiceOptions {
  /**
   * The pool the service's networks take their /24 subnets from (default: a /16 of 10.128.0.0/9
   * chosen from the directory), so two services on one machine never route the same subnet.
   */
  subnetPool?: string;
  /** How long to wait for the API to answer a ping (default 30 s). */
  timeoutMs?: number;
  /**
   * A shared image store (`ensureNodeImageStore`): its images are seen by the service without an
   * import, read-only (containers-storage's additional image store); the service's own storage stays its own.
   */
  imageStore?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Processes (other than this one) whose command line names something under `dir`. */
function processesNaming(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${dir}/`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The longest unix socket path the kernel accepts (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * containers.conf of a service: no default ulimits and the cgroupfs manager (what works on these
 * machines: no systemd), runc, events in a file, and the exec sessions' conmon gone 5 s after a
 * command exits (300 s by default: every exec would leave a process behind for minutes).
 */
function containersConf(dir: string, subnetPool: string): string {
  return [
    '# written by pgfleet: a Podman API service standing in for a Docker host',
    '[containers]',
    'default_ulimits = []',
    '',
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'runtime = "runc"',
    'events_logger = "file"',
    `events_logfile_path = "${join(dir, 'events.log')}"`,
    'exit_command_delay = 5',
    '',
    '[network]',
    `network_config_dir = "${join(dir, 'networks')}"`,
    `default_subnet_pools = [{ "base" = "${subnetPool}", "size" = 24 }]`,
    '',
  ].join('\n');
}

/**
 * storage.conf of a service: its own storage and run directories under `dir`, and the shared image
 * store when there is one. (With --root on the command line, podman 4.3 ignores the file's options.)
 */
function storageConf(dir: string, imageStore: string | undefined): string {
  return [
    '# written by pgfleet: a Podman API service standing in for a Docker host',
    '[storage]',
    `graphroot = "${join(dir, 'storage')}"`,
    `runroot = "${join(dir, 'run')}"`,
    '',
    '[storage.options]',
    `additionalimagestores = [${imageStore ? `"${resolve(imageStore)}"` : ''}]`,
    '',
  ].join('\n');
}

function defaultSubnetPool(dir: string): string {
  const h = createHash('sha256').update(dir).digest();
  return `10.${128 + (h[0]! % 120)}.0.0/16`;
}

/** Resolves true once the API answers GET /_ping with OK. */
function pingSocket(socketPath: string): Promise<boolean> {
  return new Promise((done) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done(res.statusCode === 200 && body.trim() === 'OK'));
    });
    req.on('error', () => done(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Is `pid` the podman service of `socketPath` (its command line names the socket)? */
function isServiceOf(pid: number, socketPath: string): boolean {
  if (!pidAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(`unix://${socketPath}`);
  } catch {
    return false;
  }
}

/**
 * Start (or find running) the Podman API service of `dir`: `podman --runtime runc system service
 * --time=0 unix://{dir}/podman.sock`, detached (it outlives the caller), its storage, run and
 * network directories under `dir`. Resolves once it answers a ping; rejects with the end of its
 * log when it exits or stays silent.
 */
export async function startPodmanService(dir: string, options: PodmanServiceOptions = {}): Promise<PodmanService> {
  const home = resolve(dir);
  const socketPath = join(home, 'podman.sock');
  if (socketPath.length > MAX_SOCKET_PATH) throw new Error(`podman service directory ${home} is too long for a socket`);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const pidFile = join(home, 'podman.pid');
  const log = join(home, 'podman.log');
  const running = readPid(pidFile);
  if (running !== undefined && isServiceOf(running, socketPath) && (await pingSocket(socketPath))) {
    return serviceOf(home, socketPath, running, pidFile);
  }
  for (const sub of ['storage', 'run', 'tmp', 'networks']) mkdirSync(join(home, sub), { recursive: true, mode: 0o700 });
  const conf = join(home, 'containers.conf');
  writeFileSync(conf, containersConf(home, options.subnetPool ?? defaultSubnetPool(home)), { mode: 0o600 });
  const storage = join(home, 'storage.conf');
  writeFileSync(storage, storageConf(home, options.imageStore), { mode: 0o600 });
  rmSync(socketPath, { force: true });
  const args = [
    ...['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'],
    ...['--tmpdir', join(home, 'tmp')],
    ...['--network-config-dir', join(home, 'networks')],
    ...['system', 'service', '--time=0', `unix://${socketPath}`],
  ];
  const out = openSync(log, 'a', 0o600);
  const child = spawn('podman', args, {
    detached: true,
    stdio: ['ignore', out, out],
    cwd: home,
    env: childEnv({ CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage }),
  });
  closeSync(out);
  const exited = new Promise<string>((r) => {
    child.on('error', (e) => r(e.message));
    child.on('exit', (code, signal) => r(`exit ${code ?? signal}`));
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`podman did not start: ${await exited}`);
  writeFileSync(pidFile, `${child.pid}\n`);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let gone: string | undefined;
  void exited.then((why) => (gone = why));
  while (!(await pingSocket(socketPath))) {
    if (gone !== undefined || Date.now() > deadline) {
      if (gone === undefined) child.kill('SIGKILL');
      const tail = readFileSync(log, 'utf8').trimEnd().split('\n').slice(-3).join(' | ');
      throw new Error(`podman service in ${home} did not answer (${gone ?? 'timeout'}): ${tail}`);
    }
    await sleep(100);
  }
  return serviceOf(home, socketPath, child.pid, pidFile);
}

/** Mount points at or below `dir` (deepest first), from /proc/self/mountinfo. */
function mountsUnder(dir: string): string[] {
  const decodePath = (p: string) =>
    p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => decodePath(line.split(' ')[4] ?? ''))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((x, y) => y.length - x.length);
}

function serviceOf(dir: string, socketPath: string, pid: number, pidFile: string): PodmanService {
  const stop = async () => {
    if (!isServiceOf(pid, socketPath)) return;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (pidAlive(pid)) {
      if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
      await sleep(50);
    }
    rmSync(pidFile, { force: true });
  };
  return {
    dir,
    socketPath,
    pid,
    stop,
    async purge() {
      await stop();
      // What the service leaves behind may still write under it (an exec session's conmon runs its
      // exit command seconds later): killed, then the directory removed, retried while it is busy.
      for (const pid of processesNaming(dir)) process.kill(pid, 'SIGKILL');
      for (const mount of mountsUnder(dir)) spawnSync('umount', ['-l', mount], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    },
  };
}
