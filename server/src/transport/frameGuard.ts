import { CLOSE_CODES } from '@tracewire/shared';
import type { WebSocket } from 'ws';
import type { LimitName } from '../limits/counters.js';
import { createTokenBucket } from '../limits/tokenBucket.js';
import type { Connection } from './connections.js';
import { exceedsJsonDepth } from './jsonDepth.js';

/** Options of {@link guardFrames}. */
export interface FrameGuardOptions {
  conn: Connection;
  /** Inbound frames per second (sustained) and burst, per connection. */
  framesPerSecond: number;
  frameBurst: number;
  maxJsonDepth: number;
  /** The client announced `?connectionParams=1`: its first frame must be that message. */
  expectsConnectionParams: boolean;
  /** Counts a refusal. */
  onRefusal(name: LimitName): void;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** True for `{"method":"connectionParams","data":{…strings}|null}`, the only valid first frame. */
export function isConnectionParamsFrame(text: string): boolean {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return false;
  }
  if (!isRecord(msg) || msg['method'] !== 'connectionParams') return false;
  const data = msg['data'];
  if (data === null || data === undefined) return true;
  return isRecord(data) && Object.values(data).every((v) => typeof v === 'string');
}

/**
 * Screens every inbound frame before tRPC's handler sees it. tRPC's adapter answers bad
 * JSON and bad envelopes with PARSE_ERROR itself, but has no frame rate limit, no nesting
 * limit, treats binary frames as JSON, and closes without a code on a malformed
 * `connectionParams`. Refused frames are dropped (never reach tRPC) and the connection is
 * closed with a documented code: RATE_LIMITED (4029) past the frame budget,
 * PROTOCOL_ERROR (4011) for binary frames, over-deep JSON or a malformed first frame.
 * Frames arriving while the connection is closing are dropped too.
 */
export function guardFrames(ws: WebSocket, opts: FrameGuardOptions): void {
  const { conn } = opts;
  const bucket = createTokenBucket({ perSecond: opts.framesPerSecond, burst: opts.frameBurst });
  let awaitingParams = opts.expectsConnectionParams;
  const refuse = (name: LimitName, code: number, reason: string): false => {
    opts.onRefusal(name);
    conn.close(code, reason);
    return false;
  };

  const admit = (data: unknown, isBinary: unknown): boolean => {
    if (conn.state === 'closing' || conn.state === 'closed') return false;
    if (!bucket.take().ok) return refuse('frame_rate', CLOSE_CODES.RATE_LIMITED, 'too many frames');
    if (isBinary === true || !Buffer.isBuffer(data)) {
      return refuse('binary_frame', CLOSE_CODES.PROTOCOL_ERROR, 'binary frames are not supported');
    }
    const text = data.toString('utf8');
    if (text === 'PING' || text === 'PONG') return true;
    if (exceedsJsonDepth(text, opts.maxJsonDepth)) {
      return refuse(
        'json_depth',
        CLOSE_CODES.PROTOCOL_ERROR,
        `JSON nested deeper than ${opts.maxJsonDepth}`,
      );
    }
    if (awaitingParams) {
      awaitingParams = false;
      if (!isConnectionParamsFrame(text)) {
        return refuse(
          'malformed_connection_params',
          CLOSE_CODES.PROTOCOL_ERROR,
          'first frame must be {"method":"connectionParams","data":{…}}',
        );
      }
    }
    return true;
  };

  // tRPC registers its own 'message' listener; screening at emit is the one place that can
  // drop a frame before any listener runs.
  const emit = ws.emit.bind(ws);
  ws.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === 'message' && !admit(args[0], args[1])) return false;
    return emit(event, ...args);
  }) as typeof ws.emit;
}
