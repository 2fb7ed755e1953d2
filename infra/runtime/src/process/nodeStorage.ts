import {
  emptyDir,
  initNode,
  isNodeInitialized,
  keepSpares,
  takeSpare,
  writeNodeConfig,
  type InitNodeInput,
} from '@pgfleet/postgres';
import type { NodeInfo } from '../port.js';

/** How the process driver fills a new node's storage: a spare renamed into place, or initdb. */
export interface NodeStorage {
  /** A ready spare renamed into place then the node's configuration written; initdb when none is ready. */
  init(info: NodeInfo, config: InitNodeInput): Promise<void>;
  /** Start making a spare of `major` when none is ready; not awaited: without one the next node runs initdb. */
  refill(major: number): void;
  /** Make sure a spare of `major` is ready (or being made). */
  warm(major: number): Promise<void>;
}

/** Spares under `{root}/spares` when `spares` is on; plain initdb otherwise. */
export function nodeStorage(root: string, spares: boolean): NodeStorage {
  return {
    async init(info, config) {
      // A spare has no superuser password: a node that asks for one gets its own initdb.
      if (spares && config.superuserPassword === undefined && !isNodeInitialized(info.dataDir)) {
        emptyDir(info.dataDir); // what an interrupted attempt left
        if (await takeSpare(root, info.major, info.dataDir)) {
          writeNodeConfig(config);
          return;
        }
      }
      await initNode(config);
    },
    refill(major) {
      if (spares) keepSpares(root, major).catch(() => undefined);
    },
    async warm(major) {
      if (spares) await keepSpares(root, major);
    },
  };
}
