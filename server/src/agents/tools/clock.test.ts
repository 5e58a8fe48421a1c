import { AppError } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { createTestToolContext } from '../__tests__/toolContext.js';
import { clockTool } from './clock.js';
import { wordCountTool } from './wordCount.js';

describe('clockTool', () => {
  test('returns the current time as ISO and formatted in UTC by default', async () => {
    const before = Date.now();
    const result = await clockTool.execute({}, createTestToolContext());
    const after = Date.now();
    expect(result.timeZone).toBe('UTC');
    expect(result.epochMs).toBeGreaterThanOrEqual(before);
    expect(result.epochMs).toBeLessThanOrEqual(after);
    expect(new Date(result.iso).getTime()).toBe(result.epochMs);
    expect(result.local).toBe(
      new Intl.DateTimeFormat('en-US', {
        timeZone: 'UTC',
        dateStyle: 'full',
        timeStyle: 'long',
      }).format(new Date(result.epochMs)),
    );
    expect(result.local).toContain('UTC');
  });

  test('formats the local time in the requested IANA zone', async () => {
    const result = await clockTool.execute({ timeZone: 'Asia/Tokyo' }, createTestToolContext());
    expect(result.timeZone).toBe('Asia/Tokyo');
    expect(result.local).toBe(
      new Intl.DateTimeFormat('en-US', {
        timeZone: 'Asia/Tokyo',
        dateStyle: 'full',
        timeStyle: 'long',
      }).format(new Date(result.epochMs)),
    );
    expect(result.local).toContain('GMT+9');
  });

  test('fails with BAD_REQUEST for an unknown time zone', async () => {
    const call = clockTool.execute({ timeZone: 'Mars/Olympus_Mons' }, createTestToolContext());
    await expect(call).rejects.toSatisfy(
      (e) => AppError.is(e) && e.code === 'BAD_REQUEST' && e.message.includes('Mars/Olympus_Mons'),
    );
  });

  test('refuses to run with an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(clockTool.execute({}, createTestToolContext(controller.signal))).rejects.toThrow();
  });
});

describe('wordCountTool', () => {
  test('counts words, characters and sentences', async () => {
    const result = await wordCountTool.execute(
      { text: 'Hello world. How are you today?  Fine!' },
      createTestToolContext(),
    );
    expect(result).toEqual({ words: 7, characters: 38, sentences: 3 });
  });

  test('counts nothing in blank text and ignores lone punctuation', async () => {
    expect(await wordCountTool.execute({ text: '  ' }, createTestToolContext())).toEqual({
      words: 0,
      characters: 2,
      sentences: 0,
    });
    expect((await wordCountTool.execute({ text: 'a - b' }, createTestToolContext())).words).toBe(2);
  });
});
