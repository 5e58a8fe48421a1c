import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import type { StreamParams } from '../protocol.js';
import { serveBench } from './harness.js';
import { createHub, HIGH_WATER_BYTES } from './hub.js';
import { closeServer, listenLoopback } from './listen.js';

/** Client → raw ws server frames. */
export type RawWsRequest =
  { op: 'sub'; streamId: string } | { op: 'start'; streamId: string; params: StreamParams };

/** Raw `ws`: JSON events written straight to the sockets; the practical limit of Node here. */
await serveBench(async () => {
  const hub = createHub();
  const httpServer = createServer();
  const wss = new WebSocketServer({ server: httpServer });
  wss.on('connection', (ws) => {
    const detach: (() => void)[] = [];
    ws.on('message', (data: Buffer) => {
      const req = JSON.parse(data.toString()) as RawWsRequest;
      if (req.op === 'start') return hub.start(req.streamId, req.params);
      detach.push(
        hub.attach(req.streamId, {
          deliver: (ev) => ws.send(JSON.stringify(ev)),
          writable: () => ws.bufferedAmount < HIGH_WATER_BYTES,
        }),
      );
    });
    ws.on('close', () => detach.forEach((d) => d()));
  });
  const port = await listenLoopback(httpServer);
  return { httpServer, port, close: () => closeServer(httpServer) };
});
