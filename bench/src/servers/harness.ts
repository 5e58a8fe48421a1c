import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { writeHeapSnapshot } from 'node:v8';
import { watchLoopDelay } from '../loopDelay.js';
import { watchStalls } from './stalls.js';
import type { ServerCommand, ServerMessage } from '../protocol.js';

/** What a server under test hands to {@link serveBench}. */
export interface BenchServer {
  httpServer: Server;
  port: number;
  close(): Promise<void>;
}

const send = (m: ServerMessage) => process.send?.(m);

/**
 * The part every server process shares: tracks raw TCP sockets (so a drop is the same
 * network-level cut for every system), answers the orchestrator's IPC commands (CPU, RSS,
 * drop, exit) and exits on its own if the orchestrator disappears.
 */
export async function serveBench(start: () => Promise<BenchServer>): Promise<void> {
  const server = await start().catch((e: unknown) => {
    send({ type: 'error', message: String(e) });
    process.exit(1);
  });
  const sockets = new Set<Socket>();
  server.httpServer.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // Investigation aid: `BENCH_HEAP_SNAPSHOT=1` writes a heap snapshot at every GC'd stats
  // request (S3: idle, then with every connection held) into the working directory.
  const snapshots = process.env['BENCH_HEAP_SNAPSHOT'] === '1';
  const stalls = watchStalls(process.env['BENCH_STALL_LOG']);
  const loop = watchLoopDelay();
  process.on('message', (cmd: ServerCommand) => {
    if (cmd.type === 'stats') {
      if (cmd.gc) (globalThis as { gc?: () => void }).gc?.();
      if (cmd.gc && snapshots) writeHeapSnapshot();
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      send({
        type: 'stats',
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        loopDelayP99Ms: loop.p99Ms(),
      });
      loop.reset();
    } else if (cmd.type === 'drop') {
      const n = sockets.size;
      const at = Date.now();
      for (const s of sockets) s.destroy();
      send({ type: 'dropped', at, sockets: n });
    } else {
      stalls?.write();
      void server.close().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), 2000).unref();
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port: server.port });
}
