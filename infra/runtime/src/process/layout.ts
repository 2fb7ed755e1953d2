import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Id } from '@pgfleet/contracts';
import { nodeSocketDir } from '@pgfleet/postgres';
import type { NodeInfo, NodeSpec } from '../port.js';

/**
 * Where the process driver keeps nodes: `${root}/clusters/{clusterId}/{nodeId}/{node.json,data/}`, `root`
 * being the home's data root (the home itself unless the postgres OS user cannot reach it). Spare
 * data directories live beside, in `${root}/spares` (`sparesDir` of @pgfleet/postgres), never seen here.
 */
export class Layout {
  readonly clustersDir: string;

  constructor(readonly root: string) {
    this.clustersDir = join(root, 'clusters');
  }

  clusterDir(clusterId: string): string {
    return join(this.clustersDir, safeId(clusterId, 'clusterId'));
  }

  nodeDir(clusterId: string, nodeId: string): string {
    return join(this.clusterDir(clusterId), safeId(nodeId, 'nodeId'));
  }

  /** The node's record, written at create; its presence is what makes a node known. */
  infoFile(info: Pick<NodeInfo, 'clusterId' | 'nodeId'>): string {
    return join(this.nodeDir(info.clusterId, info.nodeId), 'node.json');
  }

  /** Startup output of pg_ctl (errors before the server's own log file opens). */
  pgCtlLog(info: Pick<NodeInfo, 'clusterId' | 'nodeId'>): string {
    return join(this.nodeDir(info.clusterId, info.nodeId), 'pg_ctl.log');
  }

  /** Serializes start/stop/remove of a node across control-plane processes. */
  lockFile(info: Pick<NodeInfo, 'clusterId' | 'nodeId'>): string {
    return join(this.nodeDir(info.clusterId, info.nodeId), '.lock');
  }

  infoOf(spec: NodeSpec): NodeInfo {
    const dataDir = spec.dataDir ?? join(this.nodeDir(spec.clusterId, spec.nodeId), 'data');
    return {
      clusterId: spec.clusterId,
      nodeId: spec.nodeId,
      major: spec.major,
      port: spec.port,
      dataDir,
      socketDir: nodeSocketDir(dataDir),
    };
  }

  write(info: NodeInfo): void {
    const file = this.infoFile(info);
    mkdirSync(this.nodeDir(info.clusterId, info.nodeId), { recursive: true });
    writeFileSync(`${file}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  }

  /** Find a node by id in any cluster, from the filesystem (so every runtime instance agrees). */
  find(nodeId: string): NodeInfo | undefined {
    safeId(nodeId, 'nodeId');
    if (!existsSync(this.clustersDir)) return undefined;
    for (const clusterId of readdirSync(this.clustersDir)) {
      const info = this.read(join(this.clustersDir, clusterId, nodeId, 'node.json'));
      if (info) return info;
    }
    return undefined;
  }

  inCluster(clusterId: string): NodeInfo[] {
    const dir = this.clusterDir(clusterId);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .map((nodeId) => this.read(join(dir, nodeId, 'node.json')))
      .filter((i): i is NodeInfo => i !== undefined)
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  private read(file: string): NodeInfo | undefined {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as NodeInfo;
    } catch {
      return undefined;
    }
  }
}

/**
 * Does the record describe the node `spec` asks for (a create repeated with the same spec is a
 * no-op)? Without a `dataDir` the spec takes the node where it is (an upgraded node's is `data-{major}`).
 */
export const sameSpec = (a: NodeInfo, spec: NodeSpec): boolean =>
  a.clusterId === spec.clusterId &&
  a.major === spec.major &&
  a.port === spec.port &&
  (spec.dataDir === undefined || a.dataDir === spec.dataDir);

function safeId(id: string, field: string): string {
  // Ids become path segments: the contracts' Id rule (letters, digits, "_", "-") keeps them inside home.
  if (!Id.safeParse(id).success) throw new Error(`${field} "${id}" must be 1-64 letters, digits, "_" or "-"`);
  return id;
}
