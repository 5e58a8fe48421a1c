/**
 * The adapter's outbound frames: tRPC's response messages, transformed by the router's
 * transformer and written as JSON text, exactly as tRPC's adapter writes them (with its
 * default `jsonEncoder`). One fast path: a tracked event whose exact JSON is already known
 * is framed around that text instead of being encoded again.
 * @module
 */
import {
  transformTRPCResponse,
  type RequestId,
  type RootConfig,
  type TRPCResponseMessage,
} from './trpcProtocol.js';

/**
 * How the router's output transformer writes a value that is plain JSON, given that value's
 * JSON text: for superjson's format (Tracewire's transformer) `{"json":TEXT}`. Absent, the
 * adapter always encodes through the transformer.
 */
export type PlainValueFraming = (json: string) => string;

/** A response message as the wire carries it. */
export function encodeResponse(config: RootConfig, msg: TRPCResponseMessage): string {
  return JSON.stringify(transformTRPCResponse(config, msg));
}

/** `{"id":…,"jsonrpc":…,`: the start of every frame of one request. */
export function frameHead(id: RequestId, jsonrpc: '2.0' | undefined): string {
  return `{"id":${JSON.stringify(id)},${jsonrpc === undefined ? '' : '"jsonrpc":"2.0",'}`;
}

/**
 * The data frame of a tracked value, as tRPC writes it:
 * `{ id, jsonrpc?, result: { type: 'data', data: serialize({ id, data }), id } }`, from the
 * frame's head, the tracked id's JSON and the value's JSON text.
 */
export function trackedFrameText(head: string, idText: string, dataText: string): string {
  return `${head}"result":{"type":"data","data":${dataText},"id":${idText}}}`;
}

/** What a tracked envelope's data (`{ id, data }`) is as JSON, given its parts' JSON. */
export const trackedValueText = (idText: string, json: string): string =>
  `{"id":${idText},"data":${json}}`;

/** tRPC's data result for a value a subscription yields: a tracked one carries its id twice. */
export function dataResult(value: unknown, trackedId: string | undefined) {
  if (trackedId === undefined) return { type: 'data' as const, data: value };
  return { type: 'data' as const, data: { id: trackedId, data: value }, id: trackedId };
}
