import { describe, expect, test } from 'vitest';
import { createKeyedMutex } from './keyedMutex.js';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

describe('createKeyedMutex', () => {
  test('runs holders of the same key one at a time, in FIFO order', async () => {
    const mutex = createKeyedMutex();
    const log: string[] = [];
    let inside = 0;
    const holder = (name: string) =>
      mutex.run('k', async () => {
        inside++;
        expect(inside).toBe(1);
        log.push(`${name}:start`);
        await tick();
        log.push(`${name}:end`);
        inside--;
        return name;
      });
    const results = await Promise.all([holder('a'), holder('b'), holder('c')]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
  });

  test('does not serialise different keys', async () => {
    const mutex = createKeyedMutex();
    let release!: () => void;
    const blocked = mutex.run('a', () => new Promise<void>((resolve) => (release = resolve)));
    const other = await mutex.run('b', () => Promise.resolve('b done'));
    expect(other).toBe('b done');
    release();
    await blocked;
  });

  test('releases the key when a holder throws, and passes the error on', async () => {
    const mutex = createKeyedMutex();
    const failing = mutex.run('k', () => Promise.reject(new Error('boom')));
    const next = mutex.run('k', () => Promise.resolve('next ran'));
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next ran');
    expect(mutex.size).toBe(0);
  });

  test('keeps no map entries once every holder has released', async () => {
    const mutex = createKeyedMutex();
    const runs = Array.from({ length: 50 }, (_, i) =>
      mutex.run(`key-${i % 5}`, async () => {
        await tick();
        return i;
      }),
    );
    expect(mutex.size).toBe(5);
    expect(await Promise.all(runs)).toHaveLength(50);
    expect(mutex.size).toBe(0);
  });

  test('lets a holder that released wake the next waiter even when fn resolves synchronously', async () => {
    const mutex = createKeyedMutex();
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3].map((n) =>
        mutex.run('k', () => {
          order.push(n);
          return Promise.resolve();
        }),
      ),
    );
    expect(order).toEqual([1, 2, 3]);
    expect(mutex.size).toBe(0);
  });
});
