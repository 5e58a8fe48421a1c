import { SpanKind, trace } from '@opentelemetry/api';
import { initTRPC } from '@trpc/server';
import type { CallMeta } from '@tracewire/shared';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createTestProvider, isChildOf, useGlobalTracing } from './__tests__/testTracing.js';
import { parseCallMeta, readMeta, stripMeta } from './meta.js';
import { createTracingMiddleware } from './serverMiddleware.js';

const t0 = createTestProvider('mw-test');
const globals = useGlobalTracing();
afterAll(() => globals[Symbol.dispose]());
beforeEach(() => t0.exporter.reset());

type Ctx = { userId: string | null; trusted?: boolean; meta?: CallMeta; requestId?: string };
const traceparent = `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01`;

/** Mirrors the server's own first middleware: strips `_meta` into ctx.meta and picks the request id. */
function createApp(maxSubscriptionSpanMs?: number) {
  const t = initTRPC.context<Ctx>().create();
  const requestMeta = t.middleware(async ({ getRawInput, next }) => {
    const raw = await getRawInput();
    const meta = parseCallMeta(readMeta(raw));
    return next({
      ctx: { meta, requestId: meta?.requestId ?? 'server-generated' },
      getRawInput: () => Promise.resolve(stripMeta(raw)),
    } as never);
  });
  const tracing = t.middleware(
    createTracingMiddleware<Ctx>({
      tracerProvider: t0.provider,
      getUserId: (c) => c.userId,
      getMeta: (c) => c.meta,
      getRequestId: (c) => c.requestId,
      isTrusted: (c) => c.trusted ?? Boolean(c.userId),
      ...(maxSubscriptionSpanMs ? { maxSubscriptionSpanMs } : {}),
    }),
  );
  const procedure = t.procedure.use(requestMeta).use(tracing);
  const tracer = t0.provider.getTracer('app');
  const router = t.router({
    echo: procedure.input(z.object({ v: z.number() }).strict()).query(({ input }) => input.v),
    ticks: procedure.input(z.object({ n: z.number() }).strict()).subscription(async function* ({
      input,
    }) {
      for (let i = 0; i < input.n; i++) {
        await new Promise((r) => setTimeout(r, 25));
        tracer.startSpan(`tick ${i}`).end();
        yield i;
      }
    }),
  });
  return t.createCallerFactory(router);
}

describe('createTracingMiddleware', () => {
  test('reads trace context and request id from accessors when an earlier middleware stripped _meta', async () => {
    const caller = createApp()({ userId: 'user-1' });
    const v = await caller.echo({ v: 3, _meta: { traceparent, requestId: 'req-abc' } } as never);
    expect(v).toBe(3);
    const span = t0.one('echo');
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.spanContext().traceId).toBe('c'.repeat(32));
    expect(span.parentSpanContext?.spanId).toBe('d'.repeat(16));
    expect(span.attributes).toMatchObject({
      'app.request_id': 'req-abc',
      'user.id': 'user-1',
      'trpc.procedure.type': 'query',
    });
  });

  test('starts a new linked trace when isTrusted says no, even for a known user', async () => {
    await createApp()({ userId: 'user-1', trusted: false }).echo({
      v: 1,
      _meta: { traceparent },
    } as never);
    const span = t0.one('echo');
    expect(span.spanContext().traceId).not.toBe('c'.repeat(32));
    expect(span.links).toHaveLength(1);
    expect(span.links[0]?.context.traceId).toBe('c'.repeat(32));
  });

  test('caps a long subscription span into linked segments, keeping generator spans under the open one', async () => {
    const caller = createApp(40)({ userId: 'user-1' });
    const seen: number[] = [];
    for await (const i of await caller.ticks({ n: 5, _meta: { traceparent } } as never))
      seen.push(i);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    const segments = t0.byName('ticks');
    expect(segments.length).toBeGreaterThanOrEqual(2);
    expect(segments.every((s) => s.spanContext().traceId === 'c'.repeat(32))).toBe(true);
    expect(
      segments[1]?.links.some((l) => l.context.spanId === segments[0]?.spanContext().spanId),
    ).toBe(true);
    for (let i = 0; i < 5; i++) {
      const tick = t0.one(`tick ${i}`);
      expect(segments.some((s) => isChildOf(tick, s))).toBe(true);
    }
    expect(trace.getActiveSpan()).toBeUndefined(); // nothing leaked into the caller's context
  });
});
