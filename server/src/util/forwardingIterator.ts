/** True for anything `for await` accepts as an async iterable (a subscription's result). */
export const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> =>
  typeof v === 'object' && v !== null && Symbol.asyncIterator in v;

/**
 * Base of the subscription wrappers: an iterable that is its own iterator once iterated (as
 * a generator is) and opens its source's iterator on first use, so `return()` reaches the
 * source even before the first `next()`. A class, not a closure per method: every open
 * subscription holds one of each wrapper.
 */
export abstract class ForwardingIterator<T> implements AsyncIterableIterator<T> {
  readonly #source: AsyncIterable<T>;
  #iterator: AsyncIterator<T> | null = null;

  constructor(source: AsyncIterable<T>) {
    this.#source = source;
  }

  [Symbol.asyncIterator](): this {
    this.#iterator ??= this.#source[Symbol.asyncIterator]();
    return this;
  }

  /** The source's iterator. */
  protected get it(): AsyncIterator<T> {
    return (this.#iterator ??= this.#source[Symbol.asyncIterator]());
  }

  abstract next(): Promise<IteratorResult<T>>;
}
