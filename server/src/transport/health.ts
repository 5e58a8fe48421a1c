import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Services } from '../services.js';

/** Handles `/health/live` (process up) and `/health/ready` (store answers, not stopping). */
export function createHealthHandler(services: Services, isStopping: () => boolean) {
  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    if (path === '/health/live') {
      send(res, 200, { status: 'ok' });
      return true;
    }
    if (path === '/health/ready') {
      if (isStopping()) {
        send(res, 503, { status: 'stopping' });
        return true;
      }
      try {
        await services.store.ping();
        send(res, 200, { status: 'ready' });
      } catch (err) {
        send(res, 503, { status: 'unavailable', reason: (err as Error).message });
      }
      return true;
    }
    return false;
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
