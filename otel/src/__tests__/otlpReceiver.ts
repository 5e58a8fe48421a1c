/** A loopback OTLP/HTTP JSON receiver: a real `http.createServer` that parses each request body. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** OTLP JSON attribute. */
export interface OtlpAttribute {
  key: string;
  value: {
    stringValue?: string;
    intValue?: string | number;
    boolValue?: boolean;
    doubleValue?: number;
  };
}
/** OTLP JSON span (fields the tests read). */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
  links?: Array<{ traceId: string; spanId: string }>;
}
/** OTLP JSON export request (traces or metrics). */
export interface OtlpBody {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: Array<{ spans?: OtlpSpan[] }>;
  }>;
  resourceMetrics?: Array<{ scopeMetrics?: Array<{ metrics?: Array<{ name: string }> }> }>;
}

/** One received export request. */
export interface OtlpRequest {
  path: string;
  contentType: string | undefined;
  body: OtlpBody;
  /** The body as sent. */
  raw: string;
}

/** Running receiver; `await using` closes it. */
export interface OtlpReceiver extends AsyncDisposable {
  url: string;
  requests: OtlpRequest[];
  /** Every span in every received trace export, with its resource's `service.name`. */
  spans(): Array<OtlpSpan & { service: string | undefined }>;
  /** Names of every metric in every received metrics export. */
  metricNames(): string[];
}

/** Attribute value of an OTLP JSON span or resource (string/int/bool/double). */
export const otlpAttr = (
  holder: { attributes?: OtlpAttribute[] } | undefined,
  key: string,
): unknown => {
  const v = holder?.attributes?.find((a) => a.key === key)?.value;
  return v?.stringValue ?? v?.intValue ?? v?.boolValue ?? v?.doubleValue;
};

/** Starts the receiver on 127.0.0.1, port 0; it answers every request with `status`. */
export async function startOtlpReceiver(status = 200): Promise<OtlpReceiver> {
  const requests: OtlpRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      requests.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: JSON.parse(raw) as OtlpBody,
        raw,
      });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const bodies = (path: string) => requests.filter((r) => r.path === path).map((r) => r.body);
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    spans: () =>
      bodies('/v1/traces').flatMap((b) =>
        (b.resourceSpans ?? []).flatMap((rs) => {
          const service = otlpAttr(rs.resource, 'service.name') as string | undefined;
          return (rs.scopeSpans ?? []).flatMap((ss) =>
            (ss.spans ?? []).map((s) => ({ ...s, service })),
          );
        }),
      ),
    metricNames: () =>
      bodies('/v1/metrics').flatMap((b) =>
        (b.resourceMetrics ?? []).flatMap((rm) =>
          (rm.scopeMetrics ?? []).flatMap((sm) => (sm.metrics ?? []).map((m) => m.name)),
        ),
      ),
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
