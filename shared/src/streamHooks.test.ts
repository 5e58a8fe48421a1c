import { describe, expect, test } from 'vitest';
import {
  STREAM_HOOKS,
  StreamHookList,
  hookStream,
  type HookableStream,
  type StreamHooks,
} from './streamHooks.js';

/**
 * A hookable stream of `values` that then fails with `failWith` (or completes): the shape a
 * server's subscription source takes (see the server's thread subscriptions).
 */
class Source implements HookableStream<number>, AsyncIterator<number> {
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

async function drain(it: AsyncIterable<number>): Promise<{ got: number[]; err?: unknown }> {
  const got: number[] = [];
  try {
    for await (const v of it) got.push(v);
  } catch (err) {
    return { got, err };
  }
  return { got };
}

describe('stream hooks', () => {
  test('each layer learns of the end once, with the error as every mapper left it, in order', async () => {
    const boom = new Error('boom');
    const src = new Source([1, 2], boom);
    const ends: string[] = [];
    // Registered innermost first, as tRPC middlewares see a result.
    expect(hookStream(src, { mapError: (e) => new Error(`inner(${(e as Error).message})`) })).toBe(
      true,
    );
    expect(hookStream(src, { onEnd: (e) => ends.push(`slot:${(e as Error).message}`) })).toBe(true);
    expect(hookStream(src, { mapError: (e) => new Error(`outer(${(e as Error).message})`) })).toBe(
      true,
    );
    expect(hookStream(src, { onEnd: (e) => ends.push(`span:${(e as Error).message}`) })).toBe(true);
    const { got, err } = await drain(src);
    expect(got).toEqual([1, 2]);
    expect((err as Error).message).toBe('outer(inner(boom))');
    expect(ends).toEqual(['slot:outer(inner(boom))', 'span:outer(inner(boom))']);
    src.hooks.end(new Error('again'));
    expect(ends).toHaveLength(2);
    // Once ended, a stream takes no hooks: the caller wraps it instead.
    expect(hookStream(src, { onEnd: () => ends.push('late') })).toBe(false);
    // Mappers still apply to errors raised after the end (e.g. by a late `return()`).
    expect((src.hooks.map(new Error('x')) as Error).message).toBe('outer(inner(x))');
  });

  test('completion and a consumer return end the stream without an error', async () => {
    const done = new Source([1]);
    const closed = new Source([1, 2, 3]);
    const ends: unknown[] = [];
    hookStream(done, { onEnd: (e) => ends.push(['done', e]) });
    hookStream(closed, { onEnd: (e) => ends.push(['closed', e]) });
    expect((await drain(done)).got).toEqual([1]);
    for await (const v of closed) if (v === 2) break;
    expect(ends).toEqual([
      ['done', undefined],
      ['closed', undefined],
    ]);
  });

  test('plain iterables are not hookable', () => {
    async function* gen() {
      yield await Promise.resolve(1);
    }
    expect(hookStream(gen(), { onEnd: () => undefined })).toBe(false);
    expect(hookStream([1] as unknown as AsyncIterable<unknown>, {})).toBe(false);
  });
});
