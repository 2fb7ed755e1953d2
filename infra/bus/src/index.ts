export * from './natsServer.js';
