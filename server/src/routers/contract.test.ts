import { PROCEDURES } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { appRouter } from './index.js';

describe('the router and the published contract', () => {
  test('serve exactly the procedures of PROCEDURES, each of its kind (shared/schema/ covers them all)', () => {
    const served = Object.entries(
      appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>,
    )
      .map(([path, p]) => `${path} ${p._def.type}`)
      .sort();
    const published = Object.entries(PROCEDURES)
      .map(([path, c]) => `${path} ${c.type}`)
      .sort();
    expect(served).toEqual(published);
  });
});
