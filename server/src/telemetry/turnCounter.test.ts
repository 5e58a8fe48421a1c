import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { createTurnCounter } from './turnCounter.js';

describe('turn counter', () => {
  test('reports a turn’s counts once, at its end, and starts over in the next turn', async () => {
    const reports: [string, number][][] = [];
    const counter = createTurnCounter((counts) => reports.push([...counts]));
    expect(counter.add('a')).toBe(true);
    expect(counter.add('b')).toBe(false);
    expect(counter.add('a')).toBe(false);
    expect(reports).toEqual([]);
    await nextMacrotask();
    expect(reports).toEqual([
      [
        ['a', 2],
        ['b', 1],
      ],
    ]);
    expect(counter.add('b')).toBe(true);
    await nextMacrotask();
    expect(reports[1]).toEqual([['b', 1]]);
  });

  test('flush reports at once, and an empty turn reports nothing', async () => {
    const reports: [string, number][][] = [];
    const counter = createTurnCounter((counts) => reports.push([...counts]));
    counter.flush();
    counter.add('a');
    counter.flush();
    expect(reports).toEqual([[['a', 1]]]);
    await nextMacrotask();
    expect(reports).toHaveLength(1);
  });
});
