/** Integer-millisecond histogram (ms → count): cheap to fill per event, to merge across processes. */
export type Histogram = Record<string, number>;

/** Creates an empty histogram with a `record` helper. */
export function createHistogram(): { data: Histogram; record(ms: number): void } {
  const data: Histogram = {};
  return {
    data,
    record(ms) {
      const key = String(Math.max(0, Math.round(ms)));
      data[key] = (data[key] ?? 0) + 1;
    },
  };
}

/** Adds `from` into `into`. */
export function mergeHistogram(into: Histogram, from: Histogram): Histogram {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
  return into;
}

/** Summary of a histogram: count, mean and the percentiles the report shows. */
export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentiles of a histogram (null when empty). */
export function summarize(h: Histogram): Summary | null {
  const entries = Object.entries(h)
    .map(([k, n]) => [Number(k), n] as const)
    .sort((a, b) => a[0] - b[0]);
  const count = entries.reduce((s, [, n]) => s + n, 0);
  if (count === 0) return null;
  const at = (p: number) => {
    const rank = Math.max(1, Math.ceil(p * count));
    let seen = 0;
    for (const [v, n] of entries) if ((seen += n) >= rank) return v;
    return entries[entries.length - 1]![0];
  };
  const sum = entries.reduce((s, [v, n]) => s + v * n, 0);
  return {
    count,
    mean: Math.round((sum / count) * 100) / 100,
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    max: entries[entries.length - 1]![0],
  };
}
