import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '@tracewire/shared';
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
        // A store failure's own text (a driver's message) is for the log, not the probe.
        services.logger.warn({ err }, 'readiness check failed');
        const reason =
          AppError.is(err) || services.config.isDev ? (err as Error).message : 'store unavailable';
        send(res, 503, { status: 'unavailable', reason });
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
