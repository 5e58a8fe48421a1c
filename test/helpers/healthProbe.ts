/** Latencies of `/health/live` measured while something else ran. */
export interface HealthLatencies {
  samples: number;
  /** Probes that failed (connection reset, non-2xx): each also counts its time in `maxMs`. */
  failures: string[];
  maxMs: number;
  medianMs: number;
}

/** Polls `/health/live` back to back; `stop()` returns what it measured. */
export interface HealthProbe extends AsyncDisposable {
  stop(): Promise<HealthLatencies>;
}

/**
 * Measures the server's event loop from outside: one `GET /health/live` at a time, each
 * timed from send to full answer, `pauseMs` apart. A loop held for N ms by one message shows
 * as a probe that took about N ms.
 */
export function startHealthProbe(url: string, pauseMs = 5): HealthProbe {
  const latencies: number[] = [];
  const failures: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${url}/health/live`);
        await res.arrayBuffer();
        if (!res.ok) failures.push(`answered ${res.status}`);
      } catch (err) {
        failures.push(String((err as Error).cause ?? err));
      }
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  const stop = async (): Promise<HealthLatencies> => {
    running = false;
    await loop;
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      samples: sorted.length,
      failures,
      maxMs: sorted.at(-1) ?? 0,
      medianMs: sorted[Math.floor(sorted.length / 2)] ?? 0,
    };
  };
  return {
    stop,
    async [Symbol.asyncDispose]() {
      await stop().catch(() => undefined);
    },
  };
}
