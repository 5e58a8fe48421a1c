import { TRPCError } from '@trpc/server';
import { CallMetaSchema, createRequestId, type CallMeta } from '@tracewire/shared';
import type { BaseContext, CallContext } from '../context.js';
import { tagRequestId, toTRPCError } from '../errors.js';
import type { Services } from '../services.js';
import { middleware } from '../trpc.js';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Built once: zod compiles a parser per schema instance on first use (per call, that is CPU and code memory). */
const StrictCallMetaSchema = CallMetaSchema.strict();

/** Splits `_meta` off the raw input and validates it (invalid metadata is a BAD_REQUEST). */
function splitMeta(raw: unknown): { meta: CallMeta; rest: unknown } {
  if (!isPlainObject(raw) || !('_meta' in raw)) return { meta: {}, rest: raw };
  const { _meta, ...rest } = raw;
  if (_meta === undefined) return { meta: {}, rest };
  const parsed = StrictCallMetaSchema.safeParse(_meta);
  if (!parsed.success) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: 'invalid _meta', cause: parsed.error });
  }
  return { meta: parsed.data, rest };
}

/**
 * The logger of one call, bound to its request id and user id. Also for code that outlives
 * the call's setup (a subscription) and logs rarely: it makes its own when it needs one
 * rather than holding the call's for as long as it lasts.
 */
export function createCallLogger(
  services: Pick<Services, 'logger'>,
  requestId: string,
  userId: string | null,
): CallContext['log'] {
  return services.logger.child({ request_id: requestId, user_id: userId });
}

/**
 * First middleware of every procedure: gives the call its own request id and logger
 * (per call even on WebSocket, where tRPC's context is per connection), strips `_meta`
 * before input validation, and tags every error with the request id.
 *
 * The input is read only for a verified caller: decoding it is work an anonymous client
 * must not be able to make the server do (`requireUser` refuses such a call before anything
 * reads it). For them the request id is generated and `_meta` is stripped only if a
 * procedure reads its input at all.
 */
export const requestContext = middleware(async (opts) => {
  const ctx: BaseContext = opts.ctx;
  let requestId = createRequestId();
  try {
    let meta: CallMeta = {};
    let getRawInput: () => Promise<unknown>;
    if (ctx.principal !== null || ctx.transport === 'internal') {
      const split = splitMeta(await opts.getRawInput());
      meta = split.meta;
      if (meta.requestId) requestId = meta.requestId;
      getRawInput = () => Promise.resolve(split.rest);
    } else {
      getRawInput = async () => splitMeta(await opts.getRawInput()).rest;
    }
    const log = createCallLogger(ctx.services, requestId, ctx.principal?.userId ?? null);
    const callCtx: Omit<CallContext, keyof BaseContext> = { requestId, meta, log };
    // tRPC accepts ctx and getRawInput together at runtime; its types show them separately.
    const next = opts.next as unknown as (o: {
      ctx: typeof callCtx;
      getRawInput: () => Promise<unknown>;
    }) => ReturnType<typeof opts.next<typeof callCtx>>;
    const result = await next({ ctx: callCtx, getRawInput });
    if (!result.ok) {
      const error = toTRPCError(result.error);
      tagRequestId(error, requestId);
      return { ...result, error };
    }
    // A stream's errors are mapped and tagged by `mapErrors`, innermost.
    return result;
  } catch (err) {
    // Only an input that cannot be decoded or invalid `_meta` fails before the call starts:
    // no span, one log line.
    const error = toTRPCError(err);
    tagRequestId(error, requestId);
    ctx.services.logger.info(
      { request_id: requestId, path: opts.path, code: error.code, reason: error.message },
      'call refused',
    );
    throw error;
  }
});

/**
 * One log line and one duration sample per call, written inside the call's SERVER span
 * (so the line carries trace_id/span_id) with the final, mapped error code.
 */
export const callLog = middleware(async (opts) => {
  const ctx = opts.ctx as CallContext;
  const started = performance.now();
  const result = await opts.next();
  const error = result.ok ? undefined : toTRPCError(result.error);
  logCall(ctx.log, {
    metrics: ctx.services.metrics,
    path: opts.path,
    type: opts.type,
    started,
    code: error?.code ?? 'OK',
    ...(error ? { error } : {}),
  });
  return result;
});

interface CallLog {
  metrics: Services['metrics'];
  path: string;
  type: string;
  started: number;
  code: string;
  error?: TRPCError;
}

/** Failures at info (client errors) or error (server errors); successes at debug. */
function logCall(log: CallContext['log'], entry: CallLog): void {
  const durationMs = performance.now() - entry.started;
  entry.metrics.rpcServerCallDuration.record(durationMs / 1000, {
    'rpc.system.name': 'trpc',
    'rpc.method': entry.path,
    'rpc.status_code': entry.code,
  });
  const fields = {
    path: entry.path,
    type: entry.type,
    code: entry.code,
    duration_ms: Math.round(durationMs * 100) / 100,
  };
  if (!entry.error) log.debug(fields, 'call');
  else if (entry.error.code === 'INTERNAL_SERVER_ERROR')
    log.error({ ...fields, err: entry.error.cause ?? entry.error }, 'call failed');
  else log.info({ ...fields, reason: entry.error.message }, 'call refused');
}
