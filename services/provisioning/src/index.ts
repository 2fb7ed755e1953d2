export * from './domain/cluster.js';
export * from './domain/names.js';
export { clusterStatus, type NodeView } from './status.js';
export { clusterTlsDir, nodeCertNames } from './workers/nodeTls.js';
