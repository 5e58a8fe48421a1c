import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the sink received since the last `take()`. */
export interface OtlpReceived {
  requests: number;
  bytes: number;
  /** Spans in the OTLP/JSON bodies (see {@link countOtlpJsonSpans}). */
  spans: number;
}

const KIND = Buffer.from('"kind":');

/**
 * Spans in one OTLP/JSON export body, without parsing it: every span has exactly one `"kind":`
 * member, and links, events, resources and attributes have none (a `"kind":` inside a string
 * value is escaped). Parsing half a gigabyte of JSON per run would compete for the CPU the
 * measured server and its load generators share.
 */
export function countOtlpJsonSpans(body: Buffer): number {
  let n = 0;
  for (let i = body.indexOf(KIND); i !== -1; i = body.indexOf(KIND, i + KIND.length)) n++;
  return n;
}

/**
 * A loopback OTLP/HTTP receiver that counts and discards, so traced runs pay the export cost
 * and the report can say how many spans arrived (the SDK's batch processor drops spans past
 * its queue under a flood).
 */
export async function startOtlpSink() {
  let received: OtlpReceived = { requests: 0, bytes: 0, spans: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.requests++;
      received.bytes += body.length;
      received.spans += countOtlpJsonSpans(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    take: (): OtlpReceived => {
      const t = received;
      received = { requests: 0, bytes: 0, spans: 0 };
      return t;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
