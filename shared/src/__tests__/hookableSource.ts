import {
  STREAM_HOOKS,
  StreamHookList,
  type HookableStream,
  type StreamHooks,
} from '../streamHooks.js';

/**
 * A hookable stream of `values` that then fails with `failWith` (or completes): the shape a
 * server's subscription source takes (see the server's thread subscriptions).
 */
export class HookableSource implements HookableStream<number>, AsyncIterator<number> {
  readonly hooks = new StreamHookList();
  #i = 0;

  constructor(
    private readonly values: number[],
    private readonly failWith?: Error,
  ) {}

  [STREAM_HOOKS](h: StreamHooks): boolean {
    return this.hooks.add(h);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<number>> {
    if (this.#i < this.values.length)
      return Promise.resolve({ done: false, value: this.values[this.#i++]! });
    if (this.failWith) {
      const e = this.hooks.map(this.failWith) as Error;
      this.hooks.end(e);
      return Promise.reject(e);
    }
    this.hooks.end();
    return Promise.resolve({ done: true, value: undefined });
  }

  return(): Promise<IteratorResult<number>> {
    this.hooks.end();
    return Promise.resolve({ done: true, value: undefined });
  }
}
