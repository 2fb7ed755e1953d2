export type GatewayErrorCode =
  | 'INVALID_GATEWAY_CONFIG'
  | 'HAPROXY_CONFIG_REJECTED'
  | 'START_FAILED'
  | 'STOP_FAILED'
  | 'RUNTIME_API_UNAVAILABLE'
  | 'RUNTIME_COMMAND_FAILED'
  | 'UNKNOWN_SERVER';

/** A gateway failure a caller can act on: a stable code and one sentence. */
export class GatewayError extends Error {
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}
