export * from './config.js';
export * from './logger.js';
export * from './health.js';
export * from './shutdown.js';
export * from './decider.js';
export * from './commandHandler.js';
export * from './keyedQueue.js';
export * from './runService.js';
