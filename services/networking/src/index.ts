export * from './domain/clusterView.js';
export * from './domain/gateways.js';
export * from './workers/reconcileGateways.js';
export * from './workers/gatewayClusters.js';
export * from './domain/tls.js';
export { forceTls } from './commands/forceTls.js';
export { rotateCertificates } from './commands/rotateCertificates.js';
export { exposeCluster, unexposeCluster } from './commands/expose.js';
