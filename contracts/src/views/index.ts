export * from './cluster.js';
export * from './gateways.js';
export * from './backups.js';
export * from './operations.js';
export * from './pitr.js';
export * from './pitrRestore.js';
export * from './disk.js';
