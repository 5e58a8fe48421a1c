/**
 * A frame's messages, parsed and routed as tRPC's adapter routes them: calls to the calls
 * runner (in order, within the budget), subscriptions to their own records, stops to the
 * subscription they name, and every malformed part answered with tRPC's error.
 * @module
 */
import { runCalls, type CallHost } from './calls.js';
import { Subscription, type SubscriptionHost } from './subscription.js';
import {
  isObject,
  parseTRPCMessage,
  TRPCError,
  type RequestId,
  type TRPCClientOutgoingMessage,
  type TRPCErrorShape,
  type TRPCResponseMessage,
} from './trpcProtocol.js';
import { CONNECTION, type CallInfo, type ErrorSubject } from './types.js';

/** What dispatching needs of the connection. */
export interface DispatchHost<TCtx> extends CallHost<TCtx>, SubscriptionHost<TCtx> {
  /** The connection's subscriptions by id (made on first use). */
  subscriptions(): Map<RequestId, Subscription<TCtx>>;
  /** Answers with the error's shape, without reporting it. */
  answerError(subject: ErrorSubject, error: TRPCError): void;
  /** The error's shape from the router's formatter. */
  shapeOf(subject: ErrorSubject, error: TRPCError): TRPCErrorShape;
  /** Writes a response message. */
  answer(msg: TRPCResponseMessage): void;
}

/** Parses a frame's messages and routes each, in order (as tRPC's adapter does). */
export function dispatchFrame<TCtx>(host: DispatchHost<TCtx>, text: string): void {
  const { limits } = host.endpoint.opts;
  let messages: TRPCClientOutgoingMessage[];
  try {
    const json: unknown = JSON.parse(text);
    const list: unknown[] = Array.isArray(json) ? json : [json];
    if (Array.isArray(json) && list.length > limits.maxBatchSize) return refuseBatch(host, list);
    const { transformer } = host.endpoint.config;
    messages = list.map((raw) => parseTRPCMessage(raw, transformer));
  } catch (cause) {
    // As tRPC: answered, not reported.
    const error = new TRPCError({ code: 'PARSE_ERROR', cause });
    return host.answerError(CONNECTION, error);
  }
  const calls: CallInfo[] = [];
  for (const [batchIndex, msg] of messages.entries()) {
    const { id, jsonrpc } = msg;
    if (id === null) {
      const error = new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' });
      host.respondWithError({ ...CONNECTION, jsonrpc }, error);
      continue;
    }
    if (msg.method === 'subscription.stop') {
      host.subscriptions().get(id)?.stop();
      continue;
    }
    const { path, lastEventId } = msg.params;
    let { input } = msg.params;
    // As tRPC: the client's last event id joins the input.
    if (lastEventId !== undefined) {
      input = isObject(input) ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    if (msg.method !== 'subscription') {
      calls.push({ id, jsonrpc, type: msg.method, path, input, batchIndex });
      continue;
    }
    const subs = host.subscriptions();
    const sub = new Subscription(host, { id, jsonrpc, path, input, batchIndex });
    if (subs.has(id)) {
      const error = new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${id}` });
      host.respondWithError(sub, error);
      continue;
    }
    subs.set(id, sub);
    sub.run();
  }
  if (calls.length > 0) void runCalls(host, calls);
}

/** A batch over the limit: every request in it gets the error, as tRPC answers. */
function refuseBatch<TCtx>(host: DispatchHost<TCtx>, list: unknown[]): void {
  const error = new TRPCError({
    code: 'BAD_REQUEST',
    message: 'Batch call exceeds maximum size',
  });
  host.endpoint.opts.onRefusal?.('batch_too_large');
  host.report(CONNECTION, error);
  const shape = host.shapeOf(CONNECTION, error);
  let answered = false;
  for (const raw of list) {
    if (!isObject(raw) || raw['method'] === 'subscription.stop') continue;
    const id = raw['id'];
    if (typeof id !== 'number' && typeof id !== 'string') continue;
    host.answer({ id, jsonrpc: raw['jsonrpc'] === '2.0' ? '2.0' : undefined, error: shape });
    answered = true;
  }
  if (!answered) host.answer({ id: null, error: shape });
}
