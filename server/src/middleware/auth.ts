import { AppError } from '@tracewire/shared';
import type { Principal } from '../auth/tokens.js';
import { middleware } from '../trpc.js';

/** Refuses calls without a verified principal (UNAUTHORIZED, with the reason). */
export const requireUser = middleware(({ ctx, next }) => {
  if (!ctx.principal) {
    throw ctx.authError ?? new AppError('UNAUTHORIZED', 'missing bearer token');
  }
  const principal: Principal = ctx.principal;
  return next({ ctx: { principal } });
});
