import type { IncomingMessage } from 'node:http';
import type { AppError } from '@tracewire/shared';
import type { Principal } from '../auth/tokens.js';
import type { BaseContext, Transport } from '../context.js';
import type { DeliverySink } from '../events/flowControl.js';
import type { Services } from '../services.js';

/** The token from `Authorization: Bearer …`, if any. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m?.[1] ?? '';
}

/** Inputs for {@link resolveContext}. */
export interface ResolveContextInput {
  services: Services;
  transport: Transport;
  token: string | undefined;
  connectionId: string | null;
  sink: DeliverySink | null;
}

/**
 * Verifies the presented token and builds the context. A bad token does not throw here:
 * each call then fails with UNAUTHORIZED carrying its own request id.
 */
export async function resolveContext(input: ResolveContextInput): Promise<BaseContext> {
  let principal: Principal | null = null;
  let authError: AppError | null = null;
  if (input.token !== undefined) {
    try {
      principal = await input.services.auth.verify(input.token);
    } catch (err) {
      authError = err as AppError;
    }
  }
  return {
    services: input.services,
    transport: input.transport,
    principal,
    authError,
    connectionId: input.connectionId,
    sink: input.sink,
  };
}
