export * from './errors.js';
export * from './gatewayFiles.js';
export * from './haproxyConfig.js';
export * from './runtimeApi.js';
export * from './haproxyPlace.js';
export * from './haproxyProcess.js';
