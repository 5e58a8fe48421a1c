import type { WebSocket } from 'ws';

/** What a raw socket helper waits with: woken on every frame and on the close. */
export interface SocketWaiters {
  /** Call on every received frame and when the socket closes. */
  wake: () => void;
  /**
   * Resolves with what `probe` finds as soon as it finds something (checked now and at every
   * wake); rejects when the socket closes first or after `timeoutMs`, saying `what()` it waited for.
   */
  until: <T>(probe: () => T | undefined, timeoutMs: number, what: () => string) => Promise<T>;
}

/** Creates the waiters of one socket. */
export function createSocketWaiters(ws: WebSocket): SocketWaiters {
  const waiters = new Set<() => void>();
  return {
    wake: () => {
      for (const w of [...waiters]) w();
    },
    until: (probe, timeoutMs, what) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = probe();
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (ws.readyState === ws.CLOSED) {
            done();
            reject(new Error(`socket closed while waiting for ${what()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${what()} within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
  };
}
