import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  wsLink,
  type TRPCClient,
} from '@trpc/client';
import { transformer } from '@tracewire/shared';
import type { AppRouter } from '@tracewire/server';
import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';

/** A plain `@trpc/client` (no SDK) set up per DESIGN.md's conventions. */
export interface PlainClient extends AsyncDisposable {
  trpc: TRPCClient<AppRouter>;
  close(): Promise<void>;
}

/** Options for {@link createPlainClient}. */
export interface PlainClientOptions {
  url: string;
  token?: string;
  /** 'ws': everything over WebSocket; 'http+sse': HTTP batch + SSE subscriptions. */
  transport: 'ws' | 'http+sse';
  /** Fixed reconnect delay for WS (ms). */
  retryDelayMs?: number;
  /** WS: called on every socket open (the first one and each reconnect). */
  onOpen?: () => void;
}

/** Creates a plain tRPC client against a Tracewire server. */
export function createPlainClient(opts: PlainClientOptions): PlainClient {
  const connectionParams = opts.token ? { token: opts.token } : null;
  if (opts.transport === 'ws') {
    const ws = createWSClient({
      url: `${opts.url.replace(/^http/, 'ws')}/trpc`,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      connectionParams,
      retryDelayMs: () => opts.retryDelayMs ?? 50,
      ...(opts.onOpen ? { onOpen: opts.onOpen } : {}),
    });
    const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: ws, transformer })] });
    const close = () => ws.close();
    return { trpc, close, [Symbol.asyncDispose]: close };
  }
  const trpc = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url: `${opts.url}/trpc`,
          transformer,
          EventSource: EventSource,
          ...(connectionParams ? { connectionParams } : {}),
        }),
        false: httpBatchLink({
          url: `${opts.url}/trpc`,
          transformer,
          headers: () => (opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        }),
      }),
    ],
  });
  const close = () => Promise.resolve();
  return { trpc, close, [Symbol.asyncDispose]: close };
}
