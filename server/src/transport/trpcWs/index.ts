/**
 * @module
 * Tracewire's tRPC WebSocket adapter: one piece that owns the whole WebSocket endpoint.
 */
export { createTrpcWsEndpoint, expectsConnectionParams } from './endpoint.js';
export type { TrpcWsEndpoint } from './endpoint.js';
export type { PlainValueFraming } from './frames.js';
export type { CallType, TrpcWsOptions, WsContextOptions, WsErrorInfo, WsLimits } from './types.js';
