import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@tracewire/server';
import { expect } from 'vitest';

/** The TRPCClientError a call fails with; fails the test when the call succeeds. */
export async function errorOf(p: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TRPCClientError);
    return err as TRPCClientError<AppRouter>;
  }
  throw new Error('expected the call to fail');
}
