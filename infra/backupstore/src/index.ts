export * from './backupStore.js';
