import { io } from 'socket.io-client';
import type { BenchEvent } from '../protocol.js';
import { RETRY, runLoad } from './harness.js';

/** `socket.io-client`: one connection per client; on a recovered reconnect the rooms and missed packets come back. */
await runLoad(async (ctx) => {
  const { streamId } = ctx;
  const socket = io(`http://127.0.0.1:${ctx.args.port}`, {
    transports: ['websocket'],
    forceNew: true,
    reconnectionDelay: RETRY.baseMs,
    reconnectionDelayMax: RETRY.maxMs,
  });
  socket.on('ev', (ev: BenchEvent) => ctx.onEvent(ev));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  socket.on('connect', () => {
    ctx.onReconnect();
    // Not recovered: the session expired, so join again (what was missed is lost).
    if (!socket.recovered) socket.emit('sub', streamId);
  });
  await socket.timeout(30_000).emitWithAck('sub', streamId);
  return {
    start: async () => {
      socket.emit('start', { streamId, params: ctx.args.params });
      return Promise.resolve();
    },
    close: () => void socket.close(),
  };
});
