/**
 * Streams that report their own end: a protocol between a stream's source and the layers
 * around it (the server's error mapping and limit slots, the telemetry span), so it lives
 * here, beside the contract both sides use, and belongs to none of them.
 *
 * Each layer around a subscription needs the stream's end, not its every step; a wrapper per
 * layer holds a promise, a reaction and closures for every pending `next()`, and an idle
 * subscription has one pending for as long as it is open. A stream that offers
 * {@link STREAM_HOOKS} lets each layer register with it instead and is passed on unwrapped.
 * @module
 */

/** The method a hookable stream offers (a registered symbol: one protocol across packages). */
export const STREAM_HOOKS: unique symbol = Symbol.for('tracewire.streamHooks');

/** What a layer asks of a stream's end. */
export interface StreamHooks {
  /**
   * Runs once when the stream ends: completed, closed by its consumer (`return`/`throw`), or
   * failed, with the error as mapped by every `mapError` registered.
   */
  onEnd?: (err?: unknown) => void;
  /** Replaces an error the stream fails with; mappers run in the order they were registered. */
  mapError?: (err: unknown) => unknown;
}

/** An async iterable that takes {@link StreamHooks}. */
export interface HookableStream<T> extends AsyncIterable<T> {
  /** Registers `hooks`; false (and nothing registered) once the stream has ended. */
  [STREAM_HOOKS](hooks: StreamHooks): boolean;
}

/**
 * Registers `hooks` with `stream` when it is hookable and still open. False otherwise: the
 * caller then wraps the stream as before.
 */
export function hookStream(stream: AsyncIterable<unknown>, hooks: StreamHooks): boolean {
  const register = (stream as Partial<HookableStream<unknown>>)[STREAM_HOOKS];
  return typeof register === 'function' && register.call(stream, hooks) === true;
}

/**
 * The registered hooks of one stream, for the stream's implementation: on failure `map` the
 * error, then `end` with it; on completion or close, `end`. Each `onEnd` runs once.
 */
export class StreamHookList {
  readonly #hooks: StreamHooks[] = [];
  #ended = false;

  get ended(): boolean {
    return this.#ended;
  }

  /** The {@link HookableStream} method's body. */
  add(hooks: StreamHooks): boolean {
    if (this.#ended) return false;
    this.#hooks.push(hooks);
    return true;
  }

  /** `err` through every mapper, in registration order. */
  map(err: unknown): unknown {
    let e = err;
    for (const h of this.#hooks) if (h.mapError) e = h.mapError(e);
    return e;
  }

  /** Ends the stream (once): every `onEnd` runs with `err` (already mapped). Mappers stay. */
  end(err?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const h of this.#hooks) h.onEnd?.(err);
  }
}
