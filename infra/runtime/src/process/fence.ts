import { readControlData } from '@pgfleet/postgres';
import { NodeRuntimeError, type NodeInfo } from '../port.js';
import { livePostmaster } from './postmaster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Fence a node for a leader change (see NodeRuntime.fence): a fast shutdown is requested (SIGINT,
 * what `pg_ctl stop -m fast` sends) and this resolves as soon as the control file says `shut
 * down`, i.e. once the shutdown checkpoint is written. From the shutdown request on the server
 * takes no connection and no write; what it still does (its walsenders send that checkpoint, its
 * archiver archives what is ready, its processes exit) needs no waiting here. A node already
 * stopped, or whose postmaster is gone, is fenced as it is. Resolves with the latest checkpoint.
 */
export async function fenceNode(info: NodeInfo, timeoutMs: number): Promise<{ checkpoint: string }> {
  const pid = livePostmaster(info.dataDir);
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      /* it stopped meanwhile */
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const control = await readControlData(info.major, info.dataDir);
    const checkpoint = control['Latest checkpoint location'];
    const down = control['Database cluster state'] === 'shut down' || livePostmaster(info.dataDir) === undefined;
    if (down && checkpoint) return { checkpoint };
    if (Date.now() > deadline) {
      const message = `node ${info.nodeId} did not write its shutdown checkpoint within ${timeoutMs / 1000} s`;
      throw new NodeRuntimeError('STOP_FAILED', message, { nodeId: info.nodeId });
    }
    await sleep(50);
  }
}
