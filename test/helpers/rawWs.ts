import { createWSClient } from '@trpc/client';
import { WebSocket } from 'ws';
import { createSocketWaiters } from './socketWaiters.js';

/** How a socket ended. */
export interface Closed {
  code: number;
  reason: string;
}

/** A raw `ws` socket (no tRPC client) that records every text frame it receives. */
export interface RawSocket extends AsyncDisposable {
  ws: WebSocket;
  /** Text frames received so far, parsed when JSON (else the raw string). */
  frames: unknown[];
  /** The same frames as they came, byte for byte. */
  texts: string[];
  /** Resolves once the socket closed (code 1006 when cut without a close frame). */
  closed: Promise<Closed>;
  send(data: unknown): void;
  /** Resolves with the first received frame matching `pred` (past or future). */
  waitFor(pred: (frame: unknown) => boolean, timeoutMs?: number): Promise<unknown>;
  /** Resolves once `n` frames have come in all; rejects if the socket closes first. */
  waitForCount(n: number, timeoutMs?: number): Promise<void>;
}

/** Options of {@link openRawSocket}. */
export interface RawSocketOptions {
  /** Sends `{"method":"connectionParams","data":{token}}` first (and `?connectionParams=1`). */
  token?: string;
  /** Opens with `?connectionParams=1` without sending the frame (auth-timeout tests). */
  announceParams?: boolean;
  /** The query to open with, as given (e.g. `?connectionParams=%31`); overrides the above. */
  query?: string;
  origin?: string;
}

/** Opens a raw WebSocket to a Tracewire server; rejects when the upgrade is refused. */
export function openRawSocket(wsUrl: string, opts: RawSocketOptions = {}): Promise<RawSocket> {
  const withParams = opts.token !== undefined || opts.announceParams === true;
  const query = opts.query ?? (withParams ? '?connectionParams=1' : '');
  const ws = new WebSocket(`${wsUrl}${query}`, {
    ...(opts.origin ? { origin: opts.origin } : {}),
  });
  const frames: unknown[] = [];
  const texts: string[] = [];
  const { wake, until } = createSocketWaiters(ws);
  ws.on('message', (data: Buffer) => {
    const text = data.toString('utf8');
    texts.push(text);
    try {
      frames.push(JSON.parse(text));
    } catch {
      frames.push(text);
    }
    wake();
  });
  const closed = new Promise<Closed>((resolve) => {
    ws.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString('utf8') });
      wake();
    });
  });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused: ${res.statusCode}`)),
    );
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => undefined);
      if (opts.token !== undefined)
        ws.send(JSON.stringify({ method: 'connectionParams', data: { token: opts.token } }));
      const socket: RawSocket = {
        ws,
        frames,
        texts,
        closed,
        send: (data) =>
          ws.send(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data)),
        waitFor: (pred, timeoutMs = 5_000) =>
          until(
            () => frames.find(pred),
            timeoutMs,
            () => 'matching frame',
          ),
        waitForCount: (n, timeoutMs = 5_000) =>
          until(
            () => (texts.length >= n ? true : undefined),
            timeoutMs,
            () => `${n} frames; got ${texts.length}: ${texts.join('\n').slice(0, 800)}`,
          ).then(() => undefined),
        async [Symbol.asyncDispose]() {
          if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
          await closed;
        },
      };
      resolve(socket);
    });
  });
}

/**
 * The first close code a plain tRPC `createWSClient` sees when connecting with `token`
 * (no token: no connectionParams). The client is closed right after.
 */
export async function plainClientCloseCode(
  wsUrl: string,
  token?: string,
  timeoutMs = 5_000,
): Promise<number | undefined> {
  let resolveCode!: (code: number | undefined) => void;
  const first = new Promise<number | undefined>((r) => (resolveCode = r));
  const client = createWSClient({
    url: wsUrl,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: token ? { token } : null,
    retryDelayMs: () => 1_000,
    onClose: (cause) => resolveCode(cause?.code),
  });
  const timer = setTimeout(() => resolveCode(undefined), timeoutMs);
  try {
    return await first;
  } finally {
    clearTimeout(timer);
    await client.close();
  }
}
