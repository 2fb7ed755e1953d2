export * from './port.js';
export { createProcessRuntime, type ProcessRuntimeOptions } from './process/processRuntime.js';
export { livePostmaster, processesIn } from './process/postmaster.js';
export * from './nodeSetup.js';
