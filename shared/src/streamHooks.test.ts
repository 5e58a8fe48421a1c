import { describe, expect, test } from 'vitest';
import { HookableSource as Source } from './__tests__/hookableSource.js';
import { hookStream } from './streamHooks.js';

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
