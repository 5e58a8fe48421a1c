/**
 * tRPC over HTTP at `/trpc`: batched queries and mutations, and SSE subscriptions, through
 * tRPC's standalone handler. Here: each request's context (the bearer token, or for an SSE
 * subscription the `connectionParams` an EventSource sends in the URL; the request's response
 * budget), an SSE stream's sink (backpressure, close, the writes of a turn grouped) and its
 * end when its token expires.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { AppError } from '@tracewire/shared';
import type { DeliverySink } from '../events/flowControl.js';
import { createResponseBudget, type Limits } from '../limits/index.js';
import { appRouter } from '../routers/index.js';
import type { Services } from '../services.js';
import { httpCredentials, resolveContext } from './context.js';
import { batchTick } from './writeBatch.js';

/** Longest timer Node accepts; SSE expiry beyond it is not scheduled. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** The `/trpc` path served here (its prefix: `/trpc/<procedure>`). */
export const TRPC_PATH = '/trpc';

/** Counts tRPC-level refusals (body size, batch size) reported through `onError`. */
function countAdapterRefusal(
  limits: Limits,
  error: { code: string; message: string; cause?: unknown },
): void {
  // The response budget's refusals (an AppError) are counted where they are made.
  if (error.code === 'PAYLOAD_TOO_LARGE' && !AppError.is(error.cause))
    limits.hit('http_payload_too_large');
  else if (error.message === 'Batch call exceeds maximum size') limits.hit('batch_too_large');
}

/**
 * An SSE stream as its subscription sees it. The stream is pulled by tRPC's handler, which
 * writes each event in the turn it is handed over: corking the response then makes the
 * frames of one committed batch leave in one write (see batchTick).
 */
function sseSink(res: ServerResponse): DeliverySink {
  return {
    bufferedAmount: () => res.writableLength,
    close: () => res.destroy(),
    writing: () => batchTick(res),
  };
}

/** Ends an event stream when its token expires; EventSource reconnects with new params. */
function endAtExpiry(res: ServerResponse, expiresAt: number): void {
  const ms = expiresAt - Date.now();
  if (ms > MAX_TIMEOUT_MS) return;
  const timer = setTimeout(() => res.destroy(), Math.max(0, ms));
  timer.unref();
  res.once('close', () => clearTimeout(timer));
}

/** Creates the `/trpc` HTTP handler. */
export function createHttpTrpcHandler(
  services: Services,
  limits: Limits,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, logger } = services;
  return createHTTPHandler({
    router: appRouter,
    basePath: TRPC_PATH,
    maxBodySize: config.http.maxBodyBytes,
    maxBatchSize: config.http.maxBatchSize,
    createContext: async ({ req, res, info }) => {
      const sse = info.type === 'subscription';
      if (sse && !config.http.sseEnabled) {
        throw new AppError(
          'BAD_REQUEST',
          'subscriptions over SSE are turned off on this server (TRACEWIRE_SSE_ENABLED=false): subscribe over WebSocket',
        );
      }
      const ctx = await resolveContext({
        services,
        transport: sse ? 'sse' : 'http',
        ...httpCredentials({ req, sse, connectionParams: info.connectionParams }, limits),
        connectionId: null,
        sink: sse ? sseSink(res) : null,
        ...(sse ? {} : { responseBudget: createResponseBudget(config.http.responseBudgetBytes) }),
      });
      const expiresAt = ctx.principal?.expiresAt;
      if (sse && expiresAt) endAtExpiry(res, expiresAt);
      return ctx;
    },
    onError: ({ error, path }) => {
      countAdapterRefusal(limits, error);
      if (error.code === 'INTERNAL_SERVER_ERROR')
        logger.error({ err: error.cause ?? error, path }, 'http error');
    },
  });
}
