import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, test } from 'vitest';
import { createTestProvider, useGlobalTracing } from './__tests__/testTracing.js';
import { traceLogMixin } from './logging.js';

const t = createTestProvider('log-test');
const globals = useGlobalTracing();
afterAll(() => globals[Symbol.dispose]());

describe('traceLogMixin', () => {
  test('adds the active span ids to pino lines and nothing outside a span', () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    });
    const log = pino({ mixin: traceLogMixin }, sink).child({ request_id: 'req-1' });
    const span = t.provider.getTracer('t').startActiveSpan('call', (s) => {
      log.info('inside');
      s.end();
      return s;
    });
    log.info('outside');
    expect(lines[0]).toMatchObject({
      msg: 'inside',
      request_id: 'req-1',
      trace_id: span.spanContext().traceId,
      span_id: span.spanContext().spanId,
      trace_flags: '01',
    });
    expect(lines[1]).not.toHaveProperty('trace_id');
  });
});
