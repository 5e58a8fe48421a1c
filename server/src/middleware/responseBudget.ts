import { AppError } from '@tracewire/shared';
import type { BaseContext } from '../context.js';
import { limitsFor } from '../limits/index.js';
import { jsonByteLength, type ResponseBudget } from '../limits/responseBudget.js';
import { middleware } from '../trpc.js';

const budgetOf = (ctx: BaseContext, type: string): ResponseBudget | undefined =>
  type === 'subscription' ? undefined : ctx.responseBudget;

/**
 * First middleware of every procedure: the calls of a request with a response budget run one
 * at a time, in batch order (tRPC starts them in that order), so a batch never holds more
 * than the answers kept so far plus one call's, and the calls answered are the first ones.
 */
export const responseBudgetTurns = middleware(({ ctx, type, next }) => {
  const budget = budgetOf(ctx, type);
  return budget ? budget.inTurn(() => next()) : next();
});

/**
 * Charges each answer of a request to its response budget as it is built. Past the budget
 * the call gets PAYLOAD_TOO_LARGE, and so does every later call of the request, without
 * running: the answered calls are a prefix of the batch, the refused ones its rest. A call
 * alone always gets its answer, and so does a mutation that ran (its effect happened).
 */
export const enforceResponseBudget = middleware(async ({ ctx, type, next }) => {
  const budget = budgetOf(ctx, type);
  if (!budget) return next();
  const refuse = (reason: string): never => {
    limitsFor(ctx.services).hit('response_budget');
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `${reason}: the answers to one request may hold ${budget.limitBytes} bytes ` +
        `(${budget.usedBytes} answered before this call); send it again in a smaller batch` +
        (type === 'query' ? ' or ask for fewer items' : ''),
    );
  };
  if (budget.exhausted) refuse('not run, the response budget is used up');
  const result = await next();
  if (!result.ok) return result;
  const room = budget.limitBytes - budget.usedBytes;
  const bytes = jsonByteLength(result.data, Math.max(0, room));
  if (budget.charge(bytes, { force: type === 'mutation' })) return result;
  return refuse(`this answer (over ${room} bytes) does not fit in the response budget`);
});
