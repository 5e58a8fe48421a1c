import { createTracingMiddleware } from '@tracewire/otel';
import type { CallContext } from './context.js';
import { requireUser } from './middleware/auth.js';
import { mapErrors } from './middleware/mapErrors.js';
import { enforceLimits } from './middleware/limits.js';
import { callLog, requestContext } from './middleware/requestContext.js';
import { enforceResponseBudget, responseBudgetTurns } from './middleware/responseBudget.js';
import { baseProcedure } from './trpc.js';

/**
 * SERVER span per call (continuing the client's trace for authenticated callers only),
 * kept active through every step of a subscription.
 */
const tracing = createTracingMiddleware<CallContext>({
  getUserId: (ctx) => ctx.principal?.userId,
  getRequestId: (ctx) => ctx.requestId,
  getMeta: (ctx) => ctx.meta,
  isTrusted: (ctx) => ctx.principal !== null,
  getTransport: (ctx) => (ctx.transport === 'ws' ? 'websocket' : 'http'),
  // agent.events binds its log reads to its span itself (bindActiveContext): no context
  // switch per delivered event.
  contextPerStep: false,
});

/**
 * Every procedure starts here: the calls of a batch in turn, request id, logger, `_meta`
 * handling, error mapping.
 */
export const publicProcedure = baseProcedure
  .use(responseBudgetTurns)
  .use(requestContext)
  .use((opts) => tracing(opts))
  .use(callLog)
  .use(mapErrors);

/**
 * Procedures that need a verified user; the request's response budget and per-user limits
 * (rate, subscriptions) apply.
 */
export const authedProcedure = publicProcedure
  .use(requireUser)
  .use(enforceResponseBudget)
  .use(enforceLimits);
