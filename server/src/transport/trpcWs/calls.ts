/**
 * Queries and mutations of one frame, answered in order, one at a time, within the
 * connection's response budget: an answer that would leave more than the budget unsent on
 * the connection is replaced by a PAYLOAD_TOO_LARGE error, and once the budget is spent the
 * calls after it are answered with that error without running. So a client that stops
 * reading and keeps asking makes the server hold at most about one budget of answers (and the
 * connection stops reading it, see `congestion.ts`), not one batch of answers per frame.
 * @module
 */
import { encodeResponse } from './frames.js';
import {
  callTRPCProcedure,
  isAsyncIterable,
  isObservable,
  TRPCError,
  type TRPCResponseMessage,
} from './trpcProtocol.js';
import type { CallInfo, ConnectionHost } from './types.js';

/** What the calls need of their connection. */
export interface CallHost<TCtx> extends ConnectionHost<TCtx> {
  /** Writes an answer (grouped with the turn's other frames) and checks for congestion. */
  sendAnswer(text: string): void;
}

/** The error a call gets once the connection's answers pass the budget. */
function budgetError(budget: number): TRPCError {
  return new TRPCError({
    code: 'PAYLOAD_TOO_LARGE',
    message:
      `response budget exceeded: at most ${budget} bytes of answers may wait to be sent on ` +
      'one connection; read them, or ask for fewer or smaller pages per batch',
  });
}

/** Runs the calls of one frame in order; never rejects. */
export async function runCalls<TCtx>(
  host: CallHost<TCtx>,
  calls: readonly CallInfo[],
): Promise<void> {
  for (const call of calls) {
    try {
      await runCall(host, call);
    } catch (cause) {
      host.respondWithError(call, cause);
    }
  }
}

async function runCall<TCtx>(host: CallHost<TCtx>, call: CallInfo): Promise<void> {
  const ctx = await host.context();
  if (!host.isOpen()) return;
  const { opts, config } = host.endpoint;
  const budget = opts.limits.responseBudgetBytes;
  if (host.bufferedAmount() >= budget) {
    opts.onRefusal?.('ws_response_budget');
    throw budgetError(budget);
  }
  const result: unknown = await callTRPCProcedure({
    router: opts.router,
    path: call.path,
    getRawInput: () => Promise.resolve(call.input),
    ctx,
    type: call.type,
    signal: undefined,
    batchIndex: call.batchIndex,
  });
  if (isAsyncIterable(result) || isObservable(result)) {
    throw new TRPCError({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: `Cannot return an async iterable or observable from a ${call.type} procedure with WebSockets`,
    });
  }
  if (!host.isOpen()) return;
  const msg: TRPCResponseMessage = {
    id: call.id,
    jsonrpc: call.jsonrpc,
    result: { type: 'data', data: result },
  };
  const text = encodeResponse(config, msg);
  if (host.bufferedAmount() + text.length > budget) {
    opts.onRefusal?.('ws_response_budget');
    throw budgetError(budget);
  }
  host.sendAnswer(text);
}
