/**
 * tRPC v11 server middleware that opens the SERVER span of every call (reference §3.1).
 *
 * Written against the shape of tRPC's middleware options, not the server's context type, so it is
 * usable as `t.middleware(createTracingMiddleware<Ctx>({ ... }))` by any tRPC v11 app.
 * @module
 */
import type { Attributes, Link, TracerProvider } from '@opentelemetry/api';
import { SpanKind, context, isSpanContextValid, propagation, trace } from '@opentelemetry/api';
import { createRequestId } from '@tracewire/shared';
import type { CallMeta } from '@tracewire/shared';
import { ChainedContext } from './chainedContext.js';
import { parseCallMeta, readMeta, spanContextFromMeta, stripMeta } from './meta.js';
import type { TracewireMetrics } from './metrics.js';
import { createSegmentedSpan, traceAsyncIterable } from './segmentedSpan.js';
import type { SegmentedSpan } from './segmentedSpan.js';
import {
  ATTR_APP_REQUEST_ID,
  ATTR_NETWORK_PROTOCOL_NAME,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_TRPC_PROCEDURE_TYPE,
  ATTR_USER_ID,
  RPC_STATUS_OK,
  RPC_SYSTEM_TRPC,
} from './semconv.js';
import { errorTypeOf, getTracewireTracer, recordSpanError } from './tracing.js';

/** Default cap of one subscription span segment: 5 minutes. */
export const DEFAULT_MAX_SUBSCRIPTION_SPAN_MS = 5 * 60_000;

/** Transport of a call, recorded as `network.protocol.name`. */
export type TracewireTransport = 'websocket' | 'http';

/** The result a tRPC middleware gets from `next()` (structural subset). */
export type MiddlewareResultLike = { ok: true; data: unknown } | { ok: false; error: unknown };

/** The tRPC v11 middleware options this middleware reads (structural subset of tRPC's own type). */
export interface TracingMiddlewareCall<TCtx, TResult extends MiddlewareResultLike> {
  path: string;
  type: 'query' | 'mutation' | 'subscription';
  ctx: TCtx;
  getRawInput: () => Promise<unknown>;
  /** Aborts when the client cancels or disconnects; a stream failing after that is a normal end. */
  signal?: AbortSignal | undefined;
  next: (opts?: { getRawInput: () => Promise<unknown> }) => Promise<TResult>;
}

/** Options of {@link createTracingMiddleware}; accessors read the app's own context. */
export interface TracingMiddlewareOptions<TCtx> {
  /** Provider for the SERVER spans; the global API when omitted. */
  tracerProvider?: TracerProvider;
  /** Verified user id (`user.id`); identity never comes from the client. */
  getUserId?: (ctx: TCtx) => string | null | undefined;
  /** Request id an earlier middleware chose; else `_meta.requestId`, else a new one. */
  getRequestId?: (ctx: TCtx) => string | null | undefined;
  /** Validated `_meta` an earlier middleware extracted; when absent, read (and strip) the raw input's `_meta`. */
  getMeta?: (ctx: TCtx) => CallMeta | null | undefined;
  /** Whether to continue the client's trace; default: a user id is present (authenticated). */
  isTrusted?: (ctx: TCtx) => boolean;
  /** Transport of the call. */
  getTransport?: (ctx: TCtx) => TracewireTransport | null | undefined;
  /** Cap of one subscription span segment before it is ended and re-opened (linked). @default 300000 */
  maxSubscriptionSpanMs?: number;
  /**
   * Run every step of a subscription's iterator inside its span (so spans its work starts
   * nest under it). Set false when the subscriptions bind their own work with
   * `bindActiveContext` (cheaper per event). @default true
   */
  contextPerStep?: boolean;
  /** When given, records `rpc.server.call.duration` and `tracewire.subscriptions.active`. */
  metrics?: Pick<TracewireMetrics, 'rpcServerCallDuration' | 'subscriptionsActive'>;
}

const CLIENT_FAULT_CODES = new Set([
  'BAD_REQUEST',
  'PARSE_ERROR',
  'UNAUTHORIZED',
  'PAYMENT_REQUIRED',
  'FORBIDDEN',
  'NOT_FOUND',
  'METHOD_NOT_SUPPORTED',
  'TIMEOUT',
  'CONFLICT',
  'PRECONDITION_FAILED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNPROCESSABLE_CONTENT',
  'PRECONDITION_REQUIRED',
  'TOO_MANY_REQUESTS',
  'CLIENT_CLOSED_REQUEST',
]);

/** Whether a failure is the server's fault (span status ERROR) rather than the caller's (only `error.type`). */
export const isServerFault = (code: string): boolean => !CLIENT_FAULT_CODES.has(code);

async function readRawMeta(getRawInput: () => Promise<unknown>) {
  try {
    const raw = await getRawInput();
    const value = readMeta(raw);
    if (value === undefined) return undefined;
    const stripped = stripMeta(raw);
    return { meta: parseCallMeta(value), getRawInput: () => Promise.resolve(stripped) };
  } catch {
    return undefined; // unreadable input: the procedure's own parsing reports it
  }
}

/**
 * Creates the tracing middleware: continues the client's trace from `_meta` for trusted callers
 * (a new trace linked to the client's otherwise), drops client baggage, opens the SERVER span
 * `{path}`, records the status, and for subscriptions keeps the span context active through every
 * generator step and ends the span with the stream (capped segments, see `maxSubscriptionSpanMs`).
 * @example
 * const tracing = t.middleware(createTracingMiddleware<Ctx>({ getUserId: (c) => c.userId }));
 */
export function createTracingMiddleware<TCtx>(options: TracingMiddlewareOptions<TCtx> = {}) {
  const tracer = getTracewireTracer(options.tracerProvider);
  const maxSegmentMs = options.maxSubscriptionSpanMs ?? DEFAULT_MAX_SUBSCRIPTION_SPAN_MS;

  return async function tracingMiddleware<TResult extends MiddlewareResultLike>(
    opts: TracingMiddlewareCall<TCtx, TResult>,
  ): Promise<TResult> {
    const { ctx, path, type } = opts;
    let meta = options.getMeta?.(ctx) ?? undefined;
    let nextOpts: { getRawInput: () => Promise<unknown> } | undefined;
    if (!meta) {
      const found = await readRawMeta(opts.getRawInput);
      meta = found?.meta;
      nextOpts = found && { getRawInput: found.getRawInput };
    }
    const userId = options.getUserId?.(ctx) ?? undefined;
    const requestId = options.getRequestId?.(ctx) ?? meta?.requestId ?? createRequestId();
    const trusted = options.isTrusted ? options.isTrusted(ctx) : Boolean(userId);
    const transport = options.getTransport?.(ctx) ?? undefined;

    // Chained: an open subscription holds its contexts (see ChainedContext).
    const ambient = ChainedContext.from(context.active());
    const base = propagation.deleteBaggage(ambient);
    const clientSc = spanContextFromMeta(meta);
    const ambientSc = trace.getSpanContext(ambient);
    const links: Link[] = [];
    let parent = base;
    if (clientSc && trusted) {
      parent = trace.setSpanContext(base, clientSc);
      if (ambientSc && isSpanContextValid(ambientSc)) links.push({ context: ambientSc }); // MCP rule: keep the transport's context
    } else if (clientSc) {
      links.push({ context: clientSc, attributes: { 'tracewire.link.kind': 'untrusted_client' } });
    }
    const attributes: Attributes = {
      [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_TRPC,
      [ATTR_RPC_METHOD]: path,
      [ATTR_TRPC_PROCEDURE_TYPE]: type,
      [ATTR_APP_REQUEST_ID]: requestId,
    };
    if (userId) attributes[ATTR_USER_ID] = userId;
    if (transport) attributes[ATTR_NETWORK_PROTOCOL_NAME] = transport;

    const started = performance.now();
    const seg = createSegmentedSpan({
      tracer,
      name: path,
      kind: SpanKind.SERVER,
      parent,
      attributes,
      links,
      maxSegmentMs: type === 'subscription' ? maxSegmentMs : 0,
    });
    const finish = (err?: unknown) =>
      finishCall({ seg, err, path, started, metrics: options.metrics });

    let result: TResult;
    try {
      result = await context.with(seg.context, () =>
        nextOpts ? opts.next(nextOpts) : opts.next(),
      );
    } catch (err) {
      finish(err);
      throw err;
    }
    if (!result.ok) {
      finish(result.error);
      return result;
    }
    if (type === 'subscription' && isAsyncIterable(result.data)) {
      const call = { seg, path, started, signal: opts.signal, transport };
      return { ...result, data: traceSubscription(result.data, call, options) };
    }
    finish();
    return result;
  };
}

/** What a subscription's stream keeps of its call, until it ends. */
interface SubscriptionCall {
  seg: SegmentedSpan;
  path: string;
  started: number;
  signal: AbortSignal | undefined;
  transport: TracewireTransport | undefined;
}

/**
 * Keeps the span through the stream and ends it with the stream. Kept out of the middleware's
 * own scope so an open subscription holds only what it needs, not the call's options (and
 * through them tRPC's middleware chain) for as long as it lasts.
 */
function traceSubscription<TCtx>(
  data: AsyncIterable<unknown>,
  call: SubscriptionCall,
  options: TracingMiddlewareOptions<TCtx>,
): AsyncIterable<unknown> {
  const { seg, path, started, signal, transport } = call;
  const metrics = options.metrics;
  const active = { [ATTR_NETWORK_PROTOCOL_NAME]: transport ?? 'unknown' };
  metrics?.subscriptionsActive.add(1, active);
  return traceAsyncIterable(
    data,
    options.contextPerStep === false ? null : () => seg.context,
    (err) => {
      metrics?.subscriptionsActive.add(-1, active);
      const failure = isCancellation(err, signal) ? undefined : err;
      finishCall({ seg, err: failure, path, started, metrics });
    },
  );
}

/** A stream that fails because its consumer went away ended normally (unsubscribe, disconnect). */
const isCancellation = (err: unknown, signal: AbortSignal | undefined): boolean =>
  err !== undefined &&
  (signal?.aborted === true || (err instanceof Error && err.name === 'AbortError'));

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> =>
  typeof v === 'object' && v !== null && Symbol.asyncIterator in v;

function finishCall(args: {
  seg: SegmentedSpan;
  err: unknown;
  path: string;
  started: number;
  metrics: TracingMiddlewareOptions<unknown>['metrics'];
}): void {
  const { seg, err, path } = args;
  if (seg.ended) return;
  const code = err === undefined ? RPC_STATUS_OK : errorTypeOf(err);
  seg.end((span) => {
    span.setAttribute(ATTR_RPC_STATUS_CODE, code);
    if (err !== undefined) recordSpanError(span, err, isServerFault(code));
  });
  args.metrics?.rpcServerCallDuration.record((performance.now() - args.started) / 1000, {
    [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_TRPC,
    [ATTR_RPC_METHOD]: path,
    [ATTR_RPC_STATUS_CODE]: code,
  });
}
