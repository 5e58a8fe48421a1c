/**
 * What the bench reads from a Tracewire server's Prometheus endpoint.
 * @module
 */

/**
 * `tracewire.events.spans_skipped` in Prometheus text: events published past the span budget.
 * 0 when absent (the instrument appears once used). The value is read as a number, not as
 * digits, so a float or exponent form would not be cut short.
 */
export function spansSkippedFrom(prometheusText: string): number {
  const m = /^tracewire_events_spans_skipped_total(?:\{[^}]*\})? (\S+)/m.exec(prometheusText);
  return m ? Math.round(Number(m[1])) : 0;
}

/**
 * Events the traced server published past its per-event span budget
 * (`TRACEWIRE_EVENT_SPANS_PER_SECOND`), from its `/metrics`; null when it cannot be read.
 */
export async function eventSpansSkipped(port: number): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
      signal: AbortSignal.timeout(5_000),
    });
    return spansSkippedFrom(await res.text());
  } catch {
    return null;
  }
}
