import { TRPCClientError, type TRPCWebSocketClient } from '@trpc/client';

/**
 * The parts of tRPC 11.25's `WsClient` that {@link createPromptFlush} uses. tRPC keeps them
 * private (TypeScript `private`, not `#`); they are checked at run time, so a tRPC whose
 * client looks different keeps its own timing instead of breaking (and `promptFlush.test.ts`
 * fails, to say so).
 */
interface WsClientInternals {
  activeConnection: { isOpen(): boolean; ws: unknown };
  requestManager: {
    hasOutgoingRequests(): boolean;
    flush(ws: unknown): { message: unknown; callbacks: { error(e: unknown): void } }[];
    delete(message: unknown): void;
  };
  send(messages: unknown[]): void;
}

function internalsOf(client: TRPCWebSocketClient): WsClientInternals | null {
  const c = client as unknown as Partial<WsClientInternals>;
  const conn = c.activeConnection;
  const rm = c.requestManager;
  const ok =
    typeof c.send === 'function' &&
    typeof conn?.isOpen === 'function' &&
    typeof rm?.hasOutgoingRequests === 'function' &&
    typeof rm.flush === 'function' &&
    typeof rm.delete === 'function';
  return ok ? (c as WsClientInternals) : null;
}

/** Node's `setImmediate`; absent in browsers, where tRPC's own `setTimeout(0)` is not clamped. */
const nextMacrotask: ((fn: () => void) => unknown) | undefined = (
  globalThis as { setImmediate?: (fn: () => void) => unknown }
).setImmediate;

/**
 * Sends a wsClient's queued calls at the end of the current macrotask instead of after tRPC's
 * `setTimeout(0)`, which Node clamps to 1 ms: every call and stream start on Node waited that
 * long before its frame left (half the platform's time to `agent_started` on loopback). Calls
 * issued in the same macrotask still leave in one frame, as with tRPC's batching. tRPC's own
 * flush still runs after its timer and finds nothing left to send; while the socket is not
 * open (connecting, reconnecting) nothing is sent here and tRPC's logic is unchanged.
 *
 * Returns `schedule()`, to call after each call is handed to the wsClient; a no-op where there
 * is no `setImmediate` or the wsClient's internals are not the known ones.
 */
export function createPromptFlush(client: TRPCWebSocketClient): { schedule(): void } {
  const internals = internalsOf(client);
  if (!internals || !nextMacrotask) return { schedule: () => undefined };
  let queued = false;
  const flush = () => {
    queued = false;
    const { activeConnection, requestManager } = internals;
    if (!activeConnection.isOpen() || !requestManager.hasOutgoingRequests()) return;
    const requests = requestManager.flush(activeConnection.ws);
    try {
      internals.send(requests.map((r) => r.message));
    } catch (err) {
      // As tRPC does when its own send fails: the calls fail, nothing is retried silently.
      for (const r of requests) {
        requestManager.delete(r.message);
        r.callbacks.error(TRPCClientError.from(err as Error));
      }
    }
  };
  return {
    schedule() {
      if (queued) return;
      queued = true;
      nextMacrotask(flush);
    },
  };
}
