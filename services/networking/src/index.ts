export {
  decideGateways,
  decideGatewaysCommand,
  gatewaysDecider,
  type GatewayAction,
  type GatewaysCommand,
} from './domain/gateways.js';
export * from './domain/tls.js';
