import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import type { Operation, TRPCLink } from '@trpc/client';
import { createTRPCUntypedClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { beforeEach, describe, expect, test } from 'vitest';
import {
  createTestProvider,
  isChildOf,
  useGlobalTracing,
  waitFor,
} from './__tests__/testTracing.js';
import { createTracingLink, getOperationRequestId, splitEventMeta } from './clientLink.js';
import { encodeTraceContext } from './meta.js';

const sdk = createTestProvider('sdk');
const producerSpan = sdk.provider
  .getTracer('server')
  .startSpan('send agent.events', { kind: SpanKind.PRODUCER });
producerSpan.end();
const producerMeta = encodeTraceContext(trace.setSpan(ROOT_CONTEXT, producerSpan));
beforeEach(() => sdk.exporter.reset());

/** A terminating link that records operations and answers like a server (a real link, not a mock). */
function fakeServer(seen: Operation[]): TRPCLink<AnyRouter> {
  return () =>
    ({ op }) =>
      observable((observer) => {
        seen.push(op);
        if (op.type !== 'subscription') {
          observer.next({ result: { type: 'data', data: 'ok' } });
          observer.complete();
          return;
        }
        observer.next({ result: { type: 'started' } });
        observer.next({
          result: {
            type: 'data',
            id: '1',
            data: { id: '1', data: { threadId: 't', seq: 1, type: 'a', _meta: producerMeta } },
          },
        });
        observer.next({
          result: { type: 'data', data: { threadId: 't', seq: 2, type: 'b', _meta: producerMeta } },
        });
        observer.next({
          result: { type: 'data', data: { threadId: 't', seq: 3, type: 'resync' } },
        });
      });
}

describe('createTracingLink', () => {
  test('reuses a request id set in op.context, injects it with the trace context, and exposes it downstream', async () => {
    const seen: Operation[] = [];
    const client = createTRPCUntypedClient({
      links: [createTracingLink({ tracerProvider: sdk.provider }), fakeServer(seen)],
    });
    await client.query('chat.history', { threadId: 't' }, { context: { requestId: 'sdk-req-1' } });
    const op = seen[0]!;
    const span = sdk.one('chat.history');
    expect(getOperationRequestId(op)).toBe('sdk-req-1');
    expect(op.input).toEqual({
      threadId: 't',
      _meta: {
        requestId: 'sdk-req-1',
        traceparent: `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`,
      },
    });
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.attributes).toMatchObject({
      'rpc.method': 'chat.history',
      'app.request_id': 'sdk-req-1',
      'rpc.status_code': 'OK',
    });
  });

  test('leaves non-object inputs alone and works without any provider (global no-op API)', async () => {
    const seen: Operation[] = [];
    const client = createTRPCUntypedClient({
      links: [createTracingLink({ getRequestId: () => 'fixed' }), fakeServer(seen)],
    });
    await client.query('a', 'plain-string');
    await client.query('b', { x: 1 });
    expect(seen[0]?.input).toBe('plain-string');
    expect(seen[1]?.input).toEqual({ x: 1, _meta: { requestId: 'fixed' } });
    expect(sdk.spans()).toHaveLength(0);
  });

  test('strips _meta from tracked and plain events and makes one CONSUMER span per event', async () => {
    const data: unknown[] = [];
    const client = createTRPCUntypedClient({
      links: [
        createTracingLink({ tracerProvider: sdk.provider, consumerParent: 'subscription' }),
        fakeServer([]),
      ],
    });
    const sub = client.subscription(
      'agent.events',
      { threadId: 't' },
      { onData: (d) => data.push(d) },
    );
    await waitFor(() => data.length === 3);
    sub.unsubscribe();
    expect(data).toEqual([
      { id: '1', data: { threadId: 't', seq: 1, type: 'a' } },
      { threadId: 't', seq: 2, type: 'b' },
      { threadId: 't', seq: 3, type: 'resync' },
    ]);
    const clientSpan = sdk.one('agent.events');
    const consumers = sdk.byName('process agent.events');
    expect(consumers).toHaveLength(3);
    // consumerParent 'subscription': parent is the CLIENT span, the producer is a link
    expect(consumers.every((c) => isChildOf(c, clientSpan))).toBe(true);
    expect(consumers[0]?.links[0]?.context.spanId).toBe(producerSpan.spanContext().spanId);
    expect(consumers[0]?.attributes).toMatchObject({
      'messaging.message.id': '1',
      'messaging.destination.name': 't',
      'tracewire.event.type': 'a',
    });
    expect(consumers[2]?.links).toHaveLength(0); // no producer context on that event
  });

  test('makes no CONSUMER span while no provider is registered, and does once one is, mid-stream', async () => {
    let emit: ((seq: number) => void) | undefined;
    const server: TRPCLink<AnyRouter> = () => () =>
      observable((observer) => {
        observer.next({ result: { type: 'started' } });
        emit = (seq) =>
          observer.next({
            result: {
              type: 'data',
              id: String(seq),
              data: {
                id: String(seq),
                data: { threadId: 't', seq, type: 'a', _meta: producerMeta },
              },
            },
          });
      });
    const data: unknown[] = [];
    const client = createTRPCUntypedClient({ links: [createTracingLink(), server] });
    const sub = client.subscription(
      'agent.events',
      { threadId: 't' },
      { onData: (d) => data.push(d) },
    );
    await waitFor(() => emit);
    emit!(1);
    await waitFor(() => data.length === 1);
    expect(data[0]).toEqual({ id: '1', data: { threadId: 't', seq: 1, type: 'a' } });
    expect(sdk.spans()).toHaveLength(0);
    {
      using _global = useGlobalTracing(sdk.provider);
      emit!(2);
      await waitFor(() => data.length === 2);
      expect(data[1]).toEqual({ id: '2', data: { threadId: 't', seq: 2, type: 'a' } });
      const consumer = sdk.one('process agent.events');
      // Parent: the producer from the event's _meta (the default consumerParent).
      expect(consumer.parentSpanContext?.spanId).toBe(producerSpan.spanContext().spanId);
      expect(consumer.attributes['messaging.message.id']).toBe('2');
    }
    sub.unsubscribe();
  });
});

describe('splitEventMeta', () => {
  test('finds _meta on plain events and inside tracked envelopes, and ignores other values', () => {
    expect(splitEventMeta({ a: 1, _meta: producerMeta })).toMatchObject({
      value: { a: 1 },
      meta: producerMeta,
    });
    // Exactly: the envelope handed on carries no _meta, and the input is left as it was.
    const tracked = { id: '9', data: { a: 1, _meta: producerMeta } };
    expect(splitEventMeta(tracked)).toStrictEqual({
      value: { id: '9', data: { a: 1 } },
      event: { a: 1 },
      id: '9',
      meta: producerMeta,
    });
    expect(tracked).toStrictEqual({ id: '9', data: { a: 1, _meta: producerMeta } });
    expect(splitEventMeta('x')).toEqual({ value: 'x' });
    expect(splitEventMeta({ id: '9', data: { a: 1 } })).toStrictEqual({
      value: { id: '9', data: { a: 1 } },
      event: { a: 1 },
      id: '9',
    });
  });
});
