import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Id } from '@pgfleet/contracts';
import { GatewayError } from './errors.js';

/** The files of one gateway in its run directory. */
export interface GatewayFiles {
  dir: string;
  config: string;
  pid: string;
  /**
   * The HAProxy stats socket (runtime API, admin level): in the run directory when its path fits
   * the kernel's limit, else `/tmp/pgfleet-gw/{16 hex digits of the run directory's hash}.sock`
   * (a long home and a long cluster name). Deterministic, so every reader finds the same socket.
   */
  socket: string;
  /** Serializes start/stop of a gateway across control-plane processes. */
  lock: string;
}

/** Linux limits a unix socket path to 107 bytes (sun_path is 108 with the NUL). */
export const MAX_SOCKET_PATH = 107;

/** Where the sockets of gateways whose run directory is too deep for one live. */
export const SHORT_SOCKET_DIR = '/tmp/pgfleet-gw';

function socketOf(runDir: string): string {
  const beside = join(runDir, 'admin.sock');
  // HAProxy binds `{path}.{pid}.tmp` first, then renames it: that name must fit too.
  if (Buffer.byteLength(`${beside}.4194304.tmp`) <= MAX_SOCKET_PATH) return beside;
  return join(SHORT_SOCKET_DIR, `${createHash('sha256').update(runDir).digest('hex').slice(0, 16)}.sock`);
}

export function gatewayFiles(runDir: string): GatewayFiles {
  return {
    dir: runDir,
    config: join(runDir, 'haproxy.cfg'),
    pid: join(runDir, 'haproxy.pid'),
    socket: socketOf(runDir),
    lock: join(runDir, '.lock'),
  };
}

/** Where the process driver keeps a gateway: `${home}/clusters/{clusterId}/gateways/{gatewayId}/`. */
export function gatewayDir(home: string, clusterId: string, gatewayId: string): string {
  return join(home, 'clusters', safeId(clusterId, 'clusterId'), 'gateways', safeId(gatewayId, 'gatewayId'));
}

export function safeId(id: string, field: string): string {
  // Ids become path segments and HAProxy names: letters, digits, "_", "-" only.
  if (!Id.safeParse(id).success) {
    throw new GatewayError('INVALID_GATEWAY_CONFIG', `${field} "${id}" must be 1-64 letters, digits, "_" or "-"`, {
      field,
    });
  }
  return id;
}
