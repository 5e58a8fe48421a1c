/**
 * The `_meta` carrier: per-call request id and W3C trace context inside `input._meta` (the only
 * per-call field tRPC's WS protocol keeps), and the same trace fields on streamed events.
 *
 * Encoding is done here with `@opentelemetry/api` only, so it works without a registered global
 * propagator (browsers, apps without an SDK) and never carries baggage.
 * @module
 */
import type { Context, SpanContext } from '@opentelemetry/api';
import {
  ROOT_CONTEXT,
  createTraceState,
  isSpanContextValid,
  propagation,
  trace,
} from '@opentelemetry/api';
import { CallMetaSchema } from '@tracewire/shared';
import type { CallMeta, EventMeta } from '@tracewire/shared';

/** The reserved input field that carries {@link CallMeta}. */
export const META_FIELD = '_meta';

const TRACEPARENT = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})$/;

/** Trace fields of a context as W3C strings; empty when the context has no valid span. */
export function encodeTraceContext(ctx: Context): EventMeta {
  return encodeSpanContext(trace.getSpanContext(ctx));
}

/** `_meta` trace fields for one span context (empty when it is not valid). */
export function encodeSpanContext(sc: SpanContext | undefined): EventMeta {
  if (!sc || !isSpanContextValid(sc)) return {};
  const out: EventMeta = {
    traceparent: `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`,
  };
  const state = sc.traceState?.serialize();
  if (state) out.tracestate = state;
  return out;
}

/** Builds the `_meta` a client sends: the request id plus the trace context of `ctx`. */
export function injectMeta(ctx: Context, requestId: string): CallMeta {
  return { requestId, ...encodeTraceContext(ctx) };
}

/** Remote span context from a `{ traceparent, tracestate }` carrier, or undefined when absent or invalid. */
export function spanContextFromMeta(meta: EventMeta | undefined): SpanContext | undefined {
  const m = meta?.traceparent ? TRACEPARENT.exec(meta.traceparent) : null;
  if (!m || m[1] === 'ff') return undefined;
  const sc: SpanContext = {
    traceId: m[2] ?? '',
    spanId: m[3] ?? '',
    traceFlags: Number.parseInt(m[4] ?? '0', 16),
    isRemote: true,
  };
  if (typeof meta?.tracestate === 'string' && meta.tracestate)
    sc.traceState = createTraceState(meta.tracestate);
  return isSpanContextValid(sc) ? sc : undefined;
}

/** Validates an untrusted `_meta` value; undefined when absent or malformed (a bad carrier is ignored, not an error). */
export function parseCallMeta(value: unknown): CallMeta | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = CallMetaSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Context to continue from a client's `_meta`: its span context on top of `base`, with all
 * baggage deleted (client baggage is never trusted). Returns `base` minus baggage when the
 * carrier is missing or invalid.
 */
export function extractMeta(meta: unknown, base: Context = ROOT_CONTEXT): Context {
  const clean = propagation.deleteBaggage(base);
  const sc = spanContextFromMeta(parseCallMeta(meta));
  return sc ? trace.setSpanContext(clean, sc) : clean;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

/** True for inputs that can carry `_meta` (plain objects only: never class instances or arrays). */
export const isMetaCarrier = isPlainObject;

/** The raw `_meta` value of an input (unvalidated), if the input is a plain object. */
export function readMeta(input: unknown): unknown {
  return isPlainObject(input) ? input[META_FIELD] : undefined;
}

/** A copy of `input` without `_meta` (so `.strict()` schemas still pass); other values unchanged. */
export function stripMeta<T>(input: T): T {
  if (!isPlainObject(input) || !(META_FIELD in input)) return input;
  const { [META_FIELD]: _dropped, ...rest } = input;
  return rest as T;
}

/** A copy of `input` with `_meta` set; non-object inputs are returned unchanged (they cannot carry it). */
export function withMeta<T>(input: T, meta: CallMeta | EventMeta): T {
  return isPlainObject(input) ? { ...input, [META_FIELD]: meta } : input;
}
