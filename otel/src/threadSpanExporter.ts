/**
 * An OTLP/HTTP span exporter whose serialisation and HTTP run on a worker thread.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { DECODE_SPAN_BATCH_SOURCE, encodeSpanBatch } from './spanBatchCodec.js';

/** Options of {@link ThreadSpanExporter}. */
export interface ThreadSpanExporterOptions {
  /** The OTLP/HTTP traces endpoint (`…/v1/traces`). Headers and timeout come from `OTEL_*`. */
  url: string;
  /** How long `shutdown()` waits for exports in flight before it stops the thread. @default 10000 */
  shutdownTimeoutMs?: number;
  /**
   * The thread's nice value on Linux (0 = the process's, 19 = lowest priority): how readily it
   * gives a contended core to the event loop. @default 10
   */
  nice?: number;
  /** The module whose `OTLPTraceExporter` the thread runs. @default the installed exporter */
  exporterModule?: string;
}

/** A message from the export thread: the outcome of the request with the same id. */
interface Reply {
  id: number;
  ok: boolean;
  error?: string;
}

/**
 * The thread: the stock `OTLPTraceExporter`, fed the batches `encodeSpanBatch` wrote. Inline
 * source (`eval: true`) so the same code runs from the compiled package and from the TypeScript
 * sources under test; the exporter's path is resolved by the main thread and passed in.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { OTLPTraceExporter } = require(workerData.exporter);
${DECODE_SPAN_BATCH_SOURCE}
// Linux keeps a nice value per thread: lowered here, the thread uses idle CPU freely but yields
// a contended core to the event loop. Best effort: elsewhere it runs at the process's priority.
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (tid > 0) require('node:os').setPriority(tid, workerData.nice);
} catch {}
const exporter = new OTLPTraceExporter({ url: workerData.url });
const reply = (id, error) =>
  parentPort.postMessage(error === undefined ? { id, ok: true } : { id, ok: false, error: String(error) });
const message = (err) => (err && err.message) || String(err || 'export failed');
parentPort.on('message', (m) => {
  if (m.type === 'export') {
    let spans;
    try {
      spans = decodeSpanBatch(m.body);
    } catch (err) {
      reply(m.id, 'undecodable span batch: ' + message(err));
      return;
    }
    exporter.export(spans, (result) => reply(m.id, result.code === 0 ? undefined : message(result.error)));
  } else if (m.type === 'shutdown') {
    exporter.shutdown().then(() => reply(m.id), (err) => reply(m.id, message(err))).finally(() => parentPort.close());
  }
});
`;

/**
 * Span exporter for the server's batch processor. The stock OTLP/HTTP exporter serialises a
 * batch (512 spans: about 3.4 ms) inside the `span.end()` that fills it, which in this server is
 * usually an event's delivery, and then writes the request on the same thread; that stalled
 * every connection's events and chat turns once per batch. Here the event loop only encodes
 * the batch (about 0.6 ms, see `spanBatchCodec.ts`) and posts it; the OTLP body, its request
 * and the retries happen on a worker thread, with the same exporter and the same `OTEL_*`
 * settings. Each export's outcome comes back to the batch processor, which reports failures.
 * The thread starts with the first export; if it dies, exports in flight and later ones fail
 * with the reason instead of waiting. Opt-in (`exportThread`): encoding, decoding and then the
 * same serialisation cost more CPU in all, which a host without a free core pays elsewhere.
 */
export class ThreadSpanExporter implements SpanExporter {
  readonly #url: string;
  readonly #shutdownTimeoutMs: number;
  readonly #exporterModule: string | undefined;
  readonly #nice: number;
  #worker: Worker | undefined;
  #dead: Error | undefined;
  #shutdown: Promise<void> | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, (reply: Reply) => void>();

  constructor(options: ThreadSpanExporterOptions) {
    this.#url = options.url;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
    this.#exporterModule = options.exporterModule;
    this.#nice = options.nice ?? 10;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.#shutdown) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('exporter is shut down') });
      return;
    }
    let body: string;
    try {
      body = encodeSpanBatch(spans);
    } catch (err) {
      resultCallback({ code: ExportResultCode.FAILED, error: asError(err) });
      return;
    }
    this.#send({ type: 'export', body }, (r) =>
      resultCallback(
        r.ok
          ? { code: ExportResultCode.SUCCESS }
          : { code: ExportResultCode.FAILED, error: new Error(r.error) },
      ),
    );
  }

  /** Resolves once every export posted so far has its outcome. */
  async forceFlush(): Promise<void> {
    const waits = [...this.#pending.keys()].map((id) => this.#settled(id));
    await Promise.all(waits);
  }

  /** Waits for the exports in flight (up to `shutdownTimeoutMs`), then stops the thread. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  async #stop(): Promise<void> {
    const worker = this.#worker;
    if (!worker || this.#dead) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const timer = setTimeout(() => void worker.terminate(), this.#shutdownTimeoutMs);
    this.#send({ type: 'shutdown' }, () => undefined);
    await exited;
    clearTimeout(timer);
  }

  /** Posts `message` with a fresh id; `done` gets the thread's reply (or the thread's death). */
  #send(message: { type: string; body?: string }, done: (reply: Reply) => void): void {
    const id = ++this.#nextId;
    if (this.#dead) {
      done({ id, ok: false, error: this.#dead.message });
      return;
    }
    this.#pending.set(id, done);
    this.#thread().postMessage({ ...message, id });
  }

  #settled(id: number): Promise<void> {
    const done = this.#pending.get(id);
    if (!done) return Promise.resolve();
    return new Promise((resolve) =>
      this.#pending.set(id, (r) => {
        done(r);
        resolve();
      }),
    );
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    const exporter =
      this.#exporterModule ??
      createRequire(import.meta.url).resolve('@opentelemetry/exporter-trace-otlp-http');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { exporter, url: this.#url, nice: this.#nice },
    });
    // Never what keeps a process alive: shutdown() is what waits for the last exports.
    worker.unref();
    worker.on('message', (r: Reply) => {
      const done = this.#pending.get(r.id);
      this.#pending.delete(r.id);
      done?.(r);
    });
    worker.on('error', (err) => this.#die(err));
    worker.once('exit', (code) => this.#die(new Error(`span export thread exited (${code})`)));
    this.#worker = worker;
    return worker;
  }

  /** Fails every export in flight, and every later one, with why the thread is gone. */
  #die(err: Error): void {
    if (this.#dead) return;
    this.#dead = new Error(`span export thread failed: ${err.message}`);
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const [id, done] of pending) done({ id, ok: false, error: this.#dead.message });
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
