/**
 * The default OTLP/HTTP span exporter of the server: the stock serialiser, transport and
 * settings, with a batch's serialisation cut into slices that run on separate loop turns.
 *
 * @module
 */
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import type { IExportTraceServiceResponse, ISerializer } from '@opentelemetry/otlp-transformer';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** Options of {@link SlicedSpanExporter}. */
export interface SlicedSpanExporterOptions {
  /** The OTLP/HTTP traces endpoint (`…/v1/traces`). Headers and timeout come from `OTEL_*`. */
  url: string;
  /** Spans serialised per loop turn (about 0.4 ms for 64 of the server's spans). @default 64 */
  sliceSize?: number;
  /**
   * How long after an export began its slices may still wait for loop turns; past it the rest is
   * serialised at once. On a busy loop each turn is long, and waiting a turn per slice would hold
   * the batch processor's one export so long that its queue fills and spans are dropped.
   * @default 5
   */
  yieldForMs?: number;
  /**
   * A loop turn longer than this, seen while yielding, marks the loop busy: for the next second
   * batches are serialised at once, which is what keeps the queue from filling under load.
   * @default 2
   */
  busyTurnMs?: number;
}

/** A batch serialised ahead of the delegate, with its span count for the exporter metrics. */
interface EncodedBatch {
  body: Uint8Array;
  spans: number;
}

/** Hands the delegate the body already built; responses are read as the stock exporter does. */
const PRE_ENCODED: ISerializer<EncodedBatch, IExportTraceServiceResponse> = {
  serializeRequest: (batch) => batch.body,
  deserializeResponse: (data) => JsonTraceSerializer.deserializeResponse(data),
};

/** The stock trace exporter's component type (`otel.component.type`). */
const COMPONENT_TYPE = 'otlp_http_span_exporter';

const HEAD = Buffer.from('{"resourceSpans":[');
const TAIL = Buffer.from(']}');
const COMMA = Buffer.from(',');
/** How long a long loop turn marks the loop busy. */
const BUSY_HOLD_MS = 1_000;

/**
 * Why: the stock exporter serialises a whole batch (512 spans: about 2–3.4 ms) inside the
 * `span.end()` that fills it, usually an event's delivery, and every connection and chat turn
 * waits behind it (S5's p99). Here each slice of `sliceSize` spans is serialised by the stock
 * `JsonTraceSerializer` on its own `setImmediate` turn, so I/O runs between slices: the same
 * total CPU, no thread. On a busy loop it serialises at once, as the stock exporter does
 * (`yieldForMs`, `busyTurnMs`): there a turn is long anyway, and a turn per slice would hold
 * the batch processor's single export until its queue overflowed. The slices' `resourceSpans`
 * are joined into one request body, sent by the stock transport (retries, timeout, headers,
 * compression, `OTEL_EXPORTER_OTLP_*`). A batch of one slice is byte-identical to the stock
 * exporter's body; a longer one repeats its resource and scope once per slice, which OTLP
 * allows and receivers merge.
 */
export class SlicedSpanExporter implements SpanExporter {
  readonly #sliceSize: number;
  readonly #yieldForMs: number;
  readonly #busyTurnMs: number;
  readonly #delegate: IOtlpExportDelegate<EncodedBatch>;
  /** Serialisations under way: forceFlush and shutdown wait for them to reach the delegate. */
  readonly #encoding = new Set<Promise<void>>();
  #shutdown: Promise<void> | undefined;
  /** Until then the loop counts as busy (a recent turn was long): slices go without yielding. */
  #busyUntil = 0;

  constructor(options: SlicedSpanExporterOptions) {
    const sliceSize = options.sliceSize ?? 64;
    if (!Number.isInteger(sliceSize) || sliceSize < 1)
      throw new RangeError(`sliceSize must be a positive integer, got ${sliceSize}`);
    this.#sliceSize = sliceSize;
    this.#yieldForMs = options.yieldForMs ?? 5;
    this.#busyTurnMs = options.busyTurnMs ?? 2;
    this.#delegate = createOtlpHttpExportDelegate(
      convertLegacyHttpOptions({ url: options.url }, 'TRACES', 'v1/traces', {
        'Content-Type': 'application/json',
      }),
      PRE_ENCODED,
      COMPONENT_TYPE,
      { name: 'span', countItems: (batch) => batch.spans },
      undefined,
    );
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.#shutdown) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('exporter is shut down') });
      return;
    }
    const failed = (err: unknown) =>
      resultCallback({ code: ExportResultCode.FAILED, error: asError(err) });
    const encoding = this.#encode(spans).then((body) => {
      try {
        this.#delegate.export({ body, spans: spans.length }, resultCallback);
      } catch (err) {
        failed(err);
      }
    }, failed);
    this.#encoding.add(encoding);
    void encoding.finally(() => this.#encoding.delete(encoding));
  }

  /** Resolves once every export begun so far has been sent and answered. */
  async forceFlush(): Promise<void> {
    await Promise.all(this.#encoding);
    await this.#delegate.forceFlush();
  }

  /** Refuses new exports, waits for those begun, then closes the transport. */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      await Promise.all(this.#encoding);
      await this.#delegate.shutdown();
    })();
    return this.#shutdown;
  }

  /** The request body: the first slice at once (the usual whole batch), each further one later. */
  async #encode(spans: ReadableSpan[]): Promise<Uint8Array> {
    if (spans.length <= this.#sliceSize) return serialize(spans);
    const yieldUntil = performance.now() + this.#yieldForMs;
    const parts: Uint8Array[] = [HEAD];
    for (let i = 0; i < spans.length; i += this.#sliceSize) {
      if (i > 0) {
        const now = performance.now();
        if (now < yieldUntil && now >= this.#busyUntil) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          const after = performance.now();
          if (after - now > this.#busyTurnMs) this.#busyUntil = after + BUSY_HOLD_MS;
        }
        parts.push(COMMA);
      }
      parts.push(innerOf(serialize(spans.slice(i, i + this.#sliceSize))));
    }
    parts.push(TAIL);
    return Buffer.concat(parts);
  }
}

function serialize(spans: ReadableSpan[]): Uint8Array {
  const body = JsonTraceSerializer.serializeRequest(spans);
  if (!body) throw new Error('the OTLP serialiser produced no body');
  return body;
}

/** The `resourceSpans` entries of a serialised request, without the array's brackets. */
function innerOf(body: Uint8Array): Uint8Array {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const start = HEAD.length;
  const end = bytes.length - TAIL.length;
  if (!bytes.subarray(0, start).equals(HEAD) || !bytes.subarray(end).equals(TAIL) || end <= start)
    throw new Error('the OTLP serialiser wrote a body of an unexpected shape');
  return bytes.subarray(start, end);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
