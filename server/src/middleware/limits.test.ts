import { describe, expect, test } from 'vitest';
import { releaseOnEnd } from './limits.js';

async function* numbers() {
  yield await Promise.resolve(1);
  yield 2;
}

describe('releaseOnEnd', () => {
  test('releases once when the stream completes, is returned early, or is disposed unstarted', async () => {
    let released = 0;
    const done = releaseOnEnd(numbers(), () => released++);
    const seen: number[] = [];
    for await (const n of done) seen.push(n);
    expect([seen, released]).toEqual([[1, 2], 1]);

    let early = 0;
    for await (const n of releaseOnEnd(numbers(), () => early++)) if (n === 1) break;
    expect(early).toBe(1);

    let unstarted = 0;
    const it = releaseOnEnd(numbers(), () => unstarted++)[Symbol.asyncIterator]();
    await it.return?.();
    expect(unstarted).toBe(1);
  });

  test('releases when the source throws', async () => {
    let released = 0;
    // eslint-disable-next-line require-yield
    async function* failing(): AsyncGenerator<number> {
      await Promise.resolve();
      throw new Error('boom');
    }
    await expect(
      (async () => {
        for await (const _ of releaseOnEnd(failing(), () => released++)) void _;
      })(),
    ).rejects.toThrow('boom');
    expect(released).toBe(1);
  });
});
