import { TRPCError } from '@trpc/server';
import { AppError } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { publicMessage } from './errors.js';

describe('publicMessage (what a production client may read)', () => {
  test('keeps messages this server wrote, validation issues and tRPC protocol messages', () => {
    const app = new AppError('NOT_FOUND', 'thread thr_1 not found');
    expect(
      publicMessage(
        new TRPCError({ code: 'NOT_FOUND', message: app.message, cause: app }),
        'NOT_FOUND',
      ),
    ).toBe('thread thr_1 not found');
    const zod = z.object({ a: z.string() }).safeParse({ a: 1 }).error!;
    expect(
      publicMessage(
        new TRPCError({ code: 'BAD_REQUEST', message: 'invalid input', cause: zod }),
        'BAD_REQUEST',
      ),
    ).toBe('invalid input');
    expect(
      publicMessage(
        new TRPCError({ code: 'NOT_FOUND', message: 'No procedure found on path "x"' }),
        'NOT_FOUND',
      ),
    ).toBe('No procedure found on path "x"');
    const parse = new SyntaxError('Unexpected end of JSON input');
    expect(
      publicMessage(
        new TRPCError({ code: 'PARSE_ERROR', message: 'Unable to parse message', cause: parse }),
        'BAD_REQUEST',
      ),
    ).toBe('Unable to parse message');
  });

  test('withholds INTERNAL errors and any text copied from a runtime or library error', () => {
    const overflow = new RangeError('Maximum call stack size exceeded');
    expect(
      publicMessage(
        new TRPCError({ code: 'BAD_REQUEST', message: overflow.message, cause: overflow }),
        'BAD_REQUEST',
      ),
    ).toBeNull();
    // AppError.from wraps a foreign error with its text: still foreign.
    const wrapped = AppError.from(
      new TypeError("Cannot read properties of undefined (reading 'b')"),
      'BAD_REQUEST',
    );
    expect(
      publicMessage(
        new TRPCError({ code: 'BAD_REQUEST', message: wrapped.message, cause: wrapped }),
        'BAD_REQUEST',
      ),
    ).toBeNull();
    const ours = new AppError('INTERNAL', 'store exploded');
    expect(
      publicMessage(
        new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: ours.message, cause: ours }),
        'INTERNAL',
      ),
    ).toBeNull();
  });
});
