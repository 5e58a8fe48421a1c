import type { UserId } from '@tracewire/shared';
import type { BaseContext } from './context.js';
import { appRouter } from './routers/index.js';
import type { Services } from './services.js';
import { createCallerFactory } from './trpc.js';

const createCaller = createCallerFactory(appRouter);

/** Identity of an in-process caller. */
export interface ServiceCallerOptions {
  /** Name of the calling service (logged, on spans). */
  service: string;
  /**
   * Act for this user: ownership checks then apply to that user's threads and runs.
   * Without it the service acts as its own user `service:<name>`.
   */
  actAs?: UserId;
}

/**
 * Typed in-process caller for co-located services: the same procedures and middleware
 * (request ids, ownership, validation), no network. Subscriptions yield tracked tuples.
 */
export function createServiceCaller(services: Services, opts: ServiceCallerOptions) {
  const ctx: BaseContext = {
    services,
    transport: 'internal',
    principal: {
      userId: opts.actAs ?? (`service:${opts.service}` as UserId),
      kind: 'service',
      service: opts.service,
      expiresAt: null,
    },
    authError: null,
    connectionId: null,
    sink: null,
  };
  return createCaller(ctx);
}
