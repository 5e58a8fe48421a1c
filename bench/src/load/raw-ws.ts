import { WebSocket } from 'ws';
import type { RawWsRequest } from '../servers/raw-ws.js';
import { retryDelay, runLoad, type BenchClient, type WireEvent } from './harness.js';

/** Raw `ws` client: subscribes by message, reconnects with the shared backoff (no resume: nothing to resume from). */
await runLoad(
  (ctx) =>
    new Promise<BenchClient>((resolve, reject) => {
      const url = `ws://127.0.0.1:${ctx.args.port}`;
      const { streamId } = ctx;
      let ws: WebSocket;
      let opened = false;
      let closed = false;
      let attempt = 0;
      const request = (req: RawWsRequest) => ws.send(JSON.stringify(req));
      const client: BenchClient = {
        start: () => Promise.resolve(request({ op: 'start', streamId, params: ctx.args.params })),
        close: () => {
          closed = true;
          ws.close();
        },
      };
      const connect = () => {
        ws = new WebSocket(url);
        ws.on('open', () => {
          attempt = 0;
          request({ op: 'sub', streamId });
          if (opened) return ctx.onReconnect();
          opened = true;
          resolve(client);
        });
        ws.on('message', (data: Buffer) => ctx.onEvent(JSON.parse(data.toString()) as WireEvent));
        ws.on('error', (e) => opened || reject(e));
        ws.on('close', () => {
          if (opened && !closed) setTimeout(connect, retryDelay(attempt++));
        });
      };
      connect();
    }),
);
