export * from './ids.js';
export * from './names.js';
export * from './plans.js';
export * from './validation.js';
export * from './events/index.js';
export * from './envelope.js';
export * from './commands/index.js';
export * from './subjects.js';
