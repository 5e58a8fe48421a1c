import {
  TRPCClientError,
  type Operation,
  type OperationResultEnvelope,
  type TRPCWebSocketClient,
} from '@trpc/client';
import { observable, type Observable, type Observer } from '@trpc/server/observable';
import { transformer } from '@tracewire/shared';
import type { AppRouter } from './router.js';

/** The minimal WebSocket surface used here (the DOM's and `ws`'s both have it). */
interface SocketLike {
  readonly readyState: number;
  readonly OPEN: number;
  send(data: string): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (ev: object) => void): void;
}

type ClientError = TRPCClientError<AppRouter>;
/** A call's result as a tRPC link hands it on. */
type Envelope = OperationResultEnvelope<unknown, ClientError>;
type CallObserver = Observer<Envelope, ClientError>;
/** What a terminating link returns for an operation. */
export type CallObservable = Observable<Envelope, ClientError>;

/** One socket's calls sent here: queued for this macrotask, then waiting for answers. */
interface SocketCalls {
  outgoing: { message: object; id: string; observer: CallObserver; fallback: () => void }[];
  pending: Map<string, CallObserver>;
}

/** Node's `setImmediate`; absent in browsers, where tRPC's own `setTimeout(0)` is not clamped. */
const nextMacrotask: ((fn: () => void) => unknown) | undefined = (
  globalThis as { setImmediate?: (fn: () => void) => unknown }
).setImmediate;

/** Ids of calls sent here: strings, so they never meet tRPC's numeric ids on the same socket. */
const ID_PREFIX = 'tw:';

/** Sends queries and mutations on a wsClient's open socket (see {@link createPromptCalls}). */
export interface PromptCalls {
  /**
   * The call as an observable when the wsClient's socket is open now, or null (tRPC's link
   * then takes it). `fallback` hands it to tRPC's link after all, when the socket closes
   * before the call's frame is written.
   */
  request(op: Operation, fallback: () => CallObservable): CallObservable | null;
}

/**
 * Queries and mutations sent at the end of the current macrotask instead of after the
 * wsClient's `setTimeout(0)`, which Node clamps to 1 ms: every call on Node waited that long
 * before its frame left. Calls made in the same macrotask leave in one frame, as with tRPC's
 * batching. The frames go on the socket the wsClient has open (its public `connection`),
 * after its `connectionParams`, with string ids that the wsClient ignores; a call whose
 * socket closes before it is answered fails as tRPC fails it (the close event as cause).
 * While the socket is not open (connecting, reconnecting), and for subscriptions, tRPC's
 * link is used, unchanged. A custom link over public API: no internals of the wsClient.
 */
export function createPromptCalls(client: TRPCWebSocketClient): PromptCalls {
  const sockets = new WeakMap<SocketLike, SocketCalls>();
  let lastId = 0;

  const stateOf = (ws: SocketLike): SocketCalls => {
    let state = sockets.get(ws);
    if (state) return state;
    const created: SocketCalls = { outgoing: [], pending: new Map() };
    ws.addEventListener('message', ({ data }) => onMessage(created, data));
    ws.addEventListener('close', (event) => {
      // As the wsClient fails its own calls on a closed socket.
      const error = TRPCClientError.from<AppRouter>(event);
      for (const observer of created.pending.values()) observer.error(error);
      created.pending.clear();
    });
    sockets.set(ws, created);
    state = created;
    return state;
  };

  const flush = (ws: SocketLike, state: SocketCalls) => {
    const batch = state.outgoing;
    state.outgoing = [];
    if (batch.length === 0) return;
    if (ws.readyState !== ws.OPEN) {
      for (const call of batch) call.fallback();
      return;
    }
    for (const call of batch) state.pending.set(call.id, call.observer);
    const messages = batch.map((c) => c.message);
    ws.send(JSON.stringify(messages.length === 1 ? messages[0] : messages));
  };

  return {
    request(op, fallback) {
      const conn = client.connection;
      if (!nextMacrotask || op.type === 'subscription' || conn?.state !== 'open') return null;
      const ws = conn.ws as unknown as SocketLike;
      return observable<Envelope, ClientError>((observer) => {
        const state = stateOf(ws);
        const id = `${ID_PREFIX}${++lastId}`;
        let inner: { unsubscribe(): void } | null = null;
        const message = {
          id,
          method: op.type,
          params: { input: transformer.serialize(op.input), path: op.path },
        };
        if (state.outgoing.length === 0) nextMacrotask(() => flush(ws, state));
        state.outgoing.push({
          message,
          id,
          observer,
          fallback: () => (inner = fallback().subscribe(observer)),
        });
        return () => {
          state.pending.delete(id);
          state.outgoing = state.outgoing.filter((c) => c.id !== id);
          inner?.unsubscribe();
        };
      });
    },
  };
}

/** Hands an answer to its call; anything else on the socket is the wsClient's. */
function onMessage(state: SocketCalls, data: unknown): void {
  if (typeof data !== 'string' || !data.startsWith(`{"id":"${ID_PREFIX}`)) return;
  let msg: { id?: unknown; result?: { data?: unknown }; error?: unknown };
  try {
    msg = JSON.parse(data) as typeof msg;
  } catch {
    return;
  }
  const id = msg.id as string;
  const observer = state.pending.get(id);
  if (!observer) return;
  state.pending.delete(id);
  try {
    if (msg.error !== undefined) {
      const error = transformer.deserialize<{ message?: unknown }>(msg.error as never);
      observer.error(TRPCClientError.from<AppRouter>({ ...msg, error } as never));
      return;
    }
    const value = transformer.deserialize(msg.result?.data as never);
    observer.next({ result: { type: 'data', data: value } });
    observer.complete();
  } catch (cause) {
    observer.error(TRPCClientError.from<AppRouter>(cause as Error));
  }
}
