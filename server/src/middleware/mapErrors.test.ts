import { describe, expect, test } from 'vitest';
import { mapIterableErrors } from './mapErrors.js';

describe('mapIterableErrors', () => {
  test('passes values through and rethrows what the source throws, mapped', async () => {
    async function* failing() {
      yield await Promise.resolve(1);
      throw new Error('boom');
    }
    const seen: number[] = [];
    const mapped = mapIterableErrors(failing(), (err) => new Error(`mapped: ${String(err)}`));
    await expect(
      (async () => {
        for await (const n of mapped) seen.push(n);
      })(),
    ).rejects.toThrow('mapped: Error: boom');
    expect(seen).toEqual([1]);
  });

  test('return() reaches the source even before the first next()', async () => {
    let closed = false;
    const source: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.resolve({ done: false, value: 1 }),
        return: () => {
          closed = true;
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    };
    const it = mapIterableErrors(source, (err) => err as Error)[Symbol.asyncIterator]();
    await expect(it.return!()).resolves.toEqual({ done: true, value: undefined });
    expect(closed).toBe(true);
  });
});
