export * from './toolchain.js';
export * from './osUser.js';
export * from './net.js';
export * from './exec.js';
export * from './localServer.js';
