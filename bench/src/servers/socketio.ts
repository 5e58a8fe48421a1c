import { createServer } from 'node:http';
import { Server } from 'socket.io';
import type { StreamParams } from '../protocol.js';
import { serveBench } from './harness.js';
import { createHub } from './hub.js';
import { closeServer, listenLoopback } from './listen.js';

/** Packets queued on an engine.io connection above which the producer pauses. */
const HIGH_WATER_PACKETS = 1024;

/** Socket.IO 4 with connection state recovery: events go to a room per stream (recovery replays broadcasts). */
await serveBench(async () => {
  const hub = createHub();
  const httpServer = createServer();
  const io = new Server(httpServer, {
    transports: ['websocket'],
    connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true },
  });
  const rooms = new Set<string>();
  const roomWritable = (room: string) => {
    for (const id of io.sockets.adapter.rooms.get(room) ?? []) {
      // engine.io's write buffer is private but is the only backlog measure Socket.IO has.
      const conn = io.sockets.sockets.get(id)?.conn as { writeBuffer?: unknown[] } | undefined;
      if ((conn?.writeBuffer?.length ?? 0) > HIGH_WATER_PACKETS) return false;
    }
    return true;
  };
  io.on('connection', (socket) => {
    socket.on('sub', (streamId: string, ack?: () => void) => {
      void socket.join(streamId);
      if (!rooms.has(streamId)) {
        rooms.add(streamId);
        hub.attach(streamId, {
          deliver: (ev) => io.to(streamId).emit('ev', ev),
          writable: () => roomWritable(streamId),
        });
      }
      ack?.();
    });
    socket.on('start', (req: { streamId: string; params: StreamParams }) =>
      hub.start(req.streamId, req.params),
    );
  });
  const port = await listenLoopback(httpServer);
  return {
    httpServer,
    port,
    close: async () => {
      await io.close();
      await closeServer(httpServer);
    },
  };
});
