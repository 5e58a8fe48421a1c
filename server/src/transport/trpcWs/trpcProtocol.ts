/**
 * Everything the WebSocket adapter takes from tRPC, in one place: the procedure call, error
 * shapes, message parsing and response transformation that tRPC exports for custom adapters,
 * and the router's root config. A tRPC upgrade that moves any of these breaks this file
 * (and the parity suite, `parity.test.ts` beside it), not the adapter's logic.
 *
 * All of it comes from tRPC's public entry points; the one internal read is
 * {@link rootConfigOf} (`router._def._config`, which tRPC's own adapters read the same way).
 * @module
 */
import {
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  isTrackedEnvelope,
  transformTRPCResponse,
  TRPCError,
  type AnyTRPCRootTypes,
  type AnyTRPCRouter,
  type TRPCRootConfig,
} from '@trpc/server';
import { parseConnectionParamsFromUnknown } from '@trpc/server/http';
import { isObservable, observableToAsyncIterable } from '@trpc/server/observable';
import {
  parseTRPCMessage,
  TRPC_ERROR_CODES_BY_KEY,
  type TRPCClientOutgoingMessage,
  type TRPCErrorShape,
  type TRPCResponseMessage,
} from '@trpc/server/rpc';

export {
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  isObservable,
  isTrackedEnvelope,
  observableToAsyncIterable,
  parseConnectionParamsFromUnknown,
  parseTRPCMessage,
  transformTRPCResponse,
  TRPCError,
};
export type { AnyTRPCRouter, TRPCClientOutgoingMessage, TRPCErrorShape, TRPCResponseMessage };

/** The root config a router was built with (transformer, error formatter, `isDev`). */
export type RootConfig = TRPCRootConfig<AnyTRPCRootTypes>;

/** The router's root config, as tRPC's adapters read it. */
export function rootConfigOf(router: AnyTRPCRouter): RootConfig {
  return router._def._config as RootConfig;
}

/**
 * What tRPC's adapter answers when an error cannot be formatted (the formatter threw): a
 * shape that says nothing the formatter would have hidden.
 */
export const FALLBACK_ERROR_SHAPE: TRPCErrorShape = {
  code: TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};

/** An id of a request message (tRPC's JSON-RPC id). */
export type RequestId = string | number;

/** True for `{ name: 'AbortError' }` (DOMException or Error), as tRPC tests it. */
export const isAbortError = (error: unknown): boolean =>
  typeof error === 'object' &&
  error !== null &&
  (error as { name?: unknown }).name === 'AbortError';

/** True for a non-array object (tRPC's `isObject`). */
export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** True for anything `for await` takes. */
export const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  isObject(value) && Symbol.asyncIterator in value;
