import { createServer, type Server } from 'node:net';
import type { Logger } from '@pgfleet/kit';
import type { Watcher } from './watcher.js';

/**
 * The answer to a gateway's agent check `{clusterId} {nodeId} rw|ro`: `down` when this service
 * knows the node must not take that traffic (a fenced old leader; a standby asked for writes; the
 * leader, a primary or a follower that does not answer asked for reads), `up` otherwise, also when
 * it knows nothing of the node: HAProxy's own checks and the runtime API decide then. Pure.
 */
export function agentAnswer(watcher: Pick<Watcher, 'views' | 'watchOf'>, request: string): 'up' | 'down' {
  const [clusterId = '', nodeId = '', mode = ''] = request.trim().split(/\s+/);
  const view = watcher.views.get(clusterId);
  const node = view?.nodes.find((n) => n.nodeId === nodeId);
  if (!view || !node) return 'up';
  if (node.fenced) return 'down';
  const probe = watcher.watchOf(clusterId, nodeId)?.last;
  // Writes: the recorded leader is up at once (its last probe may predate its promotion); another
  // node known to be a standby is down.
  if (mode === 'rw') return view.leader !== nodeId && probe?.reachable && probe.inRecovery ? 'down' : 'up';
  if (mode === 'ro') {
    if (view.leader === nodeId) return 'down';
    // A follower that does not answer (restarting: "the database system is starting up") is down too.
    return !probe || (probe.reachable && probe.inRecovery) ? 'up' : 'down';
  }
  return 'up';
}

/**
 * Serve the HAProxy agent protocol on `host:port`: read the line HAProxy sends (`agent-send`),
 * answer one word and close. Another replica holding the port is not an error: this one tries
 * again every few seconds and takes over when that one is gone.
 */
export function serveAgent(address: string, watcher: Watcher, log: Logger): { close(): Promise<void> } {
  const sep = address.lastIndexOf(':');
  const host = address.slice(0, sep).replace(/^\[(.*)\]$/, '$1'); // [::1]:7490
  const port = Number(address.slice(sep + 1));
  let server: Server | undefined;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;
  const listen = () => {
    const s = createServer((socket) => {
      socket.setTimeout(2000, () => socket.destroy());
      let line = '';
      socket.on('data', (d: Buffer) => {
        line += d.toString();
        if (!line.includes('\n')) return;
        socket.end(`${agentAnswer(watcher, line.split('\n')[0] ?? '')}\n`);
      });
      socket.on('error', () => undefined);
    });
    s.once('error', (error: NodeJS.ErrnoException) => {
      if (closed) return;
      if (error.code !== 'EADDRINUSE') log.warn({ err: error.message, address }, 'agent cannot listen');
      retry = setTimeout(listen, 3000);
      retry.unref();
    });
    s.listen(port, host, () => {
      server = s;
      log.info({ address }, 'gateway agent listening');
    });
  };
  listen();
  return {
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        if (retry) clearTimeout(retry);
        if (!server) return resolve();
        server.close(() => resolve());
      }),
  };
}
