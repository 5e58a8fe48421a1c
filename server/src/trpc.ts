import { initTRPC } from '@trpc/server';
import {
  AppError,
  appCodeFromTrpcCode,
  createRequestId,
  transformer,
  type AppErrorData,
} from '@tracewire/shared';
import { ZodError, z } from 'zod';
import type { BaseContext } from './context.js';
import { publicMessage, requestIdOf, withheldMessage } from './errors.js';

/**
 * The one tRPC instance. `isDev` is pinned to false so tRPC never sends stacks by itself;
 * the formatter adds them only when the server's config says development.
 */
const t = initTRPC.context<BaseContext>().create({
  transformer,
  isDev: false,
  sse: {
    ping: { enabled: true, intervalMs: 15_000 },
    client: { reconnectAfterInactivityMs: 40_000 },
  },
  errorFormatter({ shape, error, ctx, path }) {
    const appCode = AppError.is(error.cause) ? error.cause.code : appCodeFromTrpcCode(error.code);
    const requestId = requestIdOf(error) ?? createRequestId();
    const zodError =
      error.cause instanceof ZodError
        ? (z.flattenError(error.cause) as AppErrorData['zodError'])
        : null;
    const dev = ctx?.services.config.isDev ?? false;
    const message = dev ? shape.message : publicMessage(error, appCode);
    if (message === null) {
      // Withheld from the client: the details go to the log, under the id the client gets.
      ctx?.services.logger.warn(
        { request_id: requestId, path, code: error.code, reason: error.message, err: error.cause },
        'error details withheld from the client',
      );
    }
    const data: AppErrorData & typeof shape.data = {
      ...shape.data,
      appCode,
      requestId,
      zodError,
      ...(dev && error.stack ? { stack: error.stack } : {}),
    };
    return { ...shape, message: message ?? withheldMessage(appCode), data };
  },
});

/** Router builder. */
export const router = t.router;
/** Middleware builder. */
export const middleware = t.middleware;
/** Procedure with no middleware (internal use; build on the ones in procedures.ts). */
export const baseProcedure = t.procedure;
/** Creates in-process callers (internal services, tests). */
export const createCallerFactory = t.createCallerFactory;
