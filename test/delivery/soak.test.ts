import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, test } from 'vitest';
import { waitFor } from '../helpers/collect.js';
import { probeListeners } from '../helpers/listenerProbe.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { connectRawWs } from '../helpers/rawWsClient.js';
import { startTestServer } from '../helpers/server.js';

const CYCLES = Number(process.env['SOAK_CYCLES'] ?? 800);
const CONCURRENCY = 8;
/** Heap growth allowed over the whole soak, after a forced GC (per-cycle leaks of ~1 KB would show). */
const HEAP_BOUND_BYTES = 8 * 1024 * 1024;

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

/** Counts of live handles and requests by type (timers, sockets, servers, ...). */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

test(`a soak of ${CYCLES} short connections (open, subscribe, close) leaves no connections, listeners, timers or heap growth behind`, async () => {
  await using srv = await startTestServer();
  const { transport, services } = srv.server;
  const listeners = probeListeners(services.events);
  const token = await srv.tokenFor('alice');
  await using setup = createPlainClient({ url: srv.url, token, transport: 'ws' });
  const thread = await setup.trpc.chat.createThread.mutate({});
  await setup.close();

  /** One cycle: a raw tRPC WebSocket or a plain @trpc/client, alternately. */
  const cycle = async (i: number) => {
    if (i % 2 === 0) {
      const c = await connectRawWs({ wsUrl: srv.wsUrl, token });
      c.subscribe({ threadId: thread.id });
      await c.waitFor((e) => e[0]?.data.type === 'stream_position');
      if (i % 4 === 0) c.unsubscribe(); // half stop the subscription first, half just close
      await c.close();
    } else {
      const c = createPlainClient({ url: srv.url, token, transport: 'ws' });
      await new Promise<void>((resolve, reject) => {
        const sub = c.trpc.agent.events.subscribe(
          { threadId: thread.id },
          {
            onData: () => {
              sub.unsubscribe();
              resolve();
            },
            onError: reject,
          },
        );
      });
      await c.close();
    }
  };
  const runCycles = async (from: number, to: number) => {
    let next = from;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < to) await cycle(next++);
      }),
    );
    await waitFor(() => transport.connections.stats().open === 0 && listeners.active === 0, 5_000);
  };

  // Warm up (JIT, pools, lazily created timers), then take the baseline.
  await runCycles(0, 40);
  const baseResources = resources();
  const baseHeap = await settledHeap();
  const baseTransitions = transport.connections.stats().transitions['active->closing'] ?? 0;

  await runCycles(40, 40 + CYCLES);
  const endResources = resources();
  const endHeap = await settledHeap();
  const stats = transport.connections.stats();

  console.log(
    `soak: ${CYCLES} cycles; heap ${(baseHeap / 1048576).toFixed(1)} MB -> ${(endHeap / 1048576).toFixed(1)} MB; ` +
      `listeners ever ${listeners.total}, open ${listeners.active}; connections open ${stats.open}; ` +
      `resources before ${JSON.stringify(baseResources)} after ${JSON.stringify(endResources)}`,
  );
  expect(stats.open).toBe(0);
  expect((stats.transitions['active->closing'] ?? 0) - baseTransitions).toBe(CYCLES);
  expect(listeners.active).toBe(0);
  expect(listeners.total).toBe(40 + CYCLES);
  for (const [type, n] of Object.entries(endResources)) {
    expect({ type, n }).toEqual({ type, n: Math.min(n, baseResources[type] ?? 0) });
  }
  expect(endHeap - baseHeap).toBeLessThan(HEAP_BOUND_BYTES);
}, 90_000);
