import { expect, test } from 'vitest';
import { MessageIdSchema, RunIdSchema, createEpoch, createMessageId, createRunId } from './ids.js';

test('ids drawn across many refills of the random pool are valid and never repeat', () => {
  // 16 random bytes per id from a 4 KiB pool: 10,000 ids refill it about 40 times.
  const ids = Array.from({ length: 10_000 }, (_, i) => (i % 2 ? createMessageId() : createRunId()));
  expect(new Set(ids).size).toBe(ids.length);
  for (const id of ids) {
    expect(
      id.startsWith('msg_') ? MessageIdSchema.safeParse(id) : RunIdSchema.safeParse(id),
    ).toMatchObject({ success: true });
  }
  // The random part uses the whole alphabet, not a stuck or short slice of the pool.
  const randomChars = new Set(ids.flatMap((id) => [...id.slice(-16)]));
  expect(randomChars.size).toBe(32);
});

test('ids sort by creation time; epochs are 12 random characters', async () => {
  const first = createMessageId();
  await new Promise((r) => setTimeout(r, 5));
  const second = createMessageId();
  expect(first < second).toBe(true);
  const epochs = Array.from({ length: 1000 }, createEpoch);
  expect(new Set(epochs).size).toBe(1000);
  for (const e of epochs) expect(e).toMatch(/^[0-9a-hjkmnp-tv-z]{12}$/);
});
