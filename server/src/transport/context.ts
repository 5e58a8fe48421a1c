import type { IncomingMessage } from 'node:http';
import { AppError } from '@tracewire/shared';
import type { Principal } from '../auth/tokens.js';
import type { BaseContext, Transport } from '../context.js';
import type { DeliverySink } from '../events/flowControl.js';
import type { Limits } from '../limits/index.js';
import type { ResponseBudget } from '../limits/responseBudget.js';
import type { Services } from '../services.js';

/** The token from `Authorization: Bearer …`, if any. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m?.[1] ?? '';
}

/** Where an HTTP request's credentials may be. */
export interface HttpCredentialSources {
  req: IncomingMessage;
  /** The request opens an SSE subscription (an `EventSource` cannot send headers). */
  sse: boolean;
  /** tRPC's `?connectionParams=` from the URL. */
  connectionParams: Readonly<Record<string, string | undefined>> | null | undefined;
}

/**
 * The token of an HTTP request: the `Authorization` header, or for an SSE subscription only,
 * `connectionParams.token` in the URL (what `httpSubscriptionLink` sends). A URL token on
 * any other call is refused, not ignored: URLs end up in logs, proxies and browser history,
 * and a mutation must not be triggered by a link.
 */
export function httpCredentials(
  sources: HttpCredentialSources,
  limits: Pick<Limits, 'hit'>,
): { token: string | undefined; authError?: AppError } {
  const header = bearerToken(sources.req);
  if (header !== undefined) return { token: header };
  const urlToken = sources.connectionParams?.['token'];
  if (urlToken === undefined || sources.sse) return { token: urlToken };
  limits.hit('url_token');
  return {
    token: undefined,
    authError: new AppError(
      'UNAUTHORIZED',
      'a token in the URL (connectionParams) is accepted only for SSE subscriptions: send it as Authorization: Bearer',
    ),
  };
}

/** Inputs for {@link resolveContext}. */
export interface ResolveContextInput {
  services: Services;
  transport: Transport;
  token: string | undefined;
  /** A refusal already decided (the token was presented where it is not accepted). */
  authError?: AppError | undefined;
  connectionId: string | null;
  sink: DeliverySink | null;
  /** The request's response budget (HTTP calls). */
  responseBudget?: ResponseBudget | undefined;
}

/**
 * Verifies the presented token and builds the context. A bad token does not throw here:
 * each call then fails with UNAUTHORIZED carrying its own request id.
 */
export async function resolveContext(input: ResolveContextInput): Promise<BaseContext> {
  let principal: Principal | null = null;
  let authError: AppError | null = input.authError ?? null;
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
    ...(input.responseBudget ? { responseBudget: input.responseBudget } : {}),
  };
}
