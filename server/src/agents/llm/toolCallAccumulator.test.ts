import { describe, expect, test } from 'vitest';
import { createToolCallAccumulator, type ToolCallDelta } from './toolCallAccumulator.js';

const collect = (deltas: ToolCallDelta[]) => {
  const acc = createToolCallAccumulator();
  for (const d of deltas) acc.add(d);
  return acc.calls();
};

describe('createToolCallAccumulator', () => {
  test('joins interleaved parallel calls by index', () => {
    expect(
      collect([
        { index: 0, id: 'a', type: 'function', function: { name: 'calculator', arguments: '' } },
        { index: 1, id: 'b', type: 'function', function: { name: 'clock', arguments: '{' } },
        { index: 0, function: { arguments: '{"expression":' } },
        { index: 1, function: { arguments: '}' } },
        { index: 0, function: { arguments: '"1+1"}' } },
      ]),
    ).toEqual([
      { id: 'a', name: 'calculator', arguments: '{"expression":"1+1"}' },
      { id: 'b', name: 'clock', arguments: '{}' },
    ]);
  });

  test('falls back to the id when the index is missing', () => {
    expect(
      collect([
        { id: 'a', function: { name: 'clock', arguments: '{' } },
        { id: 'b', function: { name: 'wordCount', arguments: '{"text":' } },
        { id: 'a', function: { arguments: '}' } },
        { id: 'b', function: { arguments: '"x"}' } },
      ]),
    ).toEqual([
      { id: 'a', name: 'clock', arguments: '{}' },
      { id: 'b', name: 'wordCount', arguments: '{"text":"x"}' },
    ]);
  });

  test('falls back to the open call when index and id are missing, a new name opens a new call', () => {
    expect(
      collect([
        { function: { name: 'calculator', arguments: '{"expression"' } },
        { function: { arguments: ': "2"}' } },
        { function: { name: 'clock', arguments: '{}' } },
      ]),
    ).toEqual([
      { id: 'call_0', name: 'calculator', arguments: '{"expression": "2"}' },
      { id: 'call_1', name: 'clock', arguments: '{}' },
    ]);
  });

  test('keeps the first name when a server repeats it, and the first id', () => {
    expect(
      collect([
        { index: 0, id: 'x', function: { name: 'clock', arguments: '{' } },
        { index: 0, id: 'x', function: { name: 'clock', arguments: '}' } },
      ]),
    ).toEqual([{ id: 'x', name: 'clock', arguments: '{}' }]);
  });
});
