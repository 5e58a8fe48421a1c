import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import { transformer, type AppErrorCode } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { getErrorInfo, isConnectionError, isTracewireError } from './errors.js';
import type { AppRouter } from './router.js';
import { isRetryableSendError } from './send.js';
import { closedPort } from './__tests__/closedPort.js';

/** An error exactly as the client builds it from a Tracewire error response. */
const serverError = (appCode: string, zodError: unknown = null) =>
  TRPCClientError.from({
    error: {
      code: -32600,
      message: 'bad input',
      data: { code: 'BAD_REQUEST', httpStatus: 400, appCode, requestId: 'req-1', zodError },
    },
  });

describe('isTracewireError', () => {
  test('narrows a server error to typed AppErrorData', () => {
    const e: unknown = serverError('BAD_REQUEST', {
      formErrors: [],
      fieldErrors: { content: ['too long'] },
    });
    expect(isTracewireError(e)).toBe(true);
    if (!isTracewireError(e)) return;
    const code: AppErrorCode = e.data.appCode;
    expect(code).toBe('BAD_REQUEST');
    expect(e.data.requestId).toBe('req-1');
    expect(e.data.zodError?.fieldErrors['content']).toEqual(['too long']);
  });

  test('rejects plain errors and client errors without app data', () => {
    expect(isTracewireError(new Error('x'))).toBe(false);
    expect(isTracewireError(TRPCClientError.from(new Error('fetch failed')))).toBe(false);
    expect(isTracewireError('nope')).toBe(false);
  });
});

describe('getErrorInfo', () => {
  test('flattens a server error', () => {
    expect(getErrorInfo(serverError('NOT_FOUND'))).toEqual({
      appCode: 'NOT_FOUND',
      requestId: 'req-1',
      zodError: null,
      message: 'bad input',
      fromServer: true,
      closeCode: null,
    });
  });

  test('reports a real failed HTTP call as UNAVAILABLE, retryable for send', async () => {
    const port = await closedPort();
    const trpc = createTRPCClient<AppRouter>({
      links: [httpBatchLink({ url: `http://127.0.0.1:${port}/trpc`, transformer })],
    });
    const error = await trpc.chat.listThreads.query({}).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isConnectionError(error)).toBe(true);
    expect(isRetryableSendError(error)).toBe(true);
    expect(getErrorInfo(error)).toMatchObject({
      appCode: 'UNAVAILABLE',
      fromServer: false,
      requestId: null,
    });
  });

  test('does not treat an aborted call as a connection failure', async () => {
    const port = await closedPort();
    const trpc = createTRPCClient<AppRouter>({
      links: [httpBatchLink({ url: `http://127.0.0.1:${port}/trpc`, transformer })],
    });
    const ac = new AbortController();
    ac.abort();
    const error = await trpc.chat.listThreads.query({}, { signal: ac.signal }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isConnectionError(error)).toBe(false);
    expect(getErrorInfo(error).appCode).toBe('CANCELLED');
  });

  test('never retries a send the server rejected for a reason a retry cannot fix', () => {
    expect(isRetryableSendError(serverError('BAD_REQUEST'))).toBe(false);
    expect(isRetryableSendError(serverError('UNAVAILABLE'))).toBe(true);
  });
});
