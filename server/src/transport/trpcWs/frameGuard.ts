/**
 * Inbound screening: what a frame must pass before the adapter parses it. tRPC's own adapter
 * answers bad JSON and bad envelopes with PARSE_ERROR, but has no frame rate limit, no
 * nesting limit, treats binary frames as JSON and takes any first frame as the
 * `connectionParams` message. Refusals close the connection with a documented code.
 * @module
 */
import { CLOSE_CODES } from '@tracewire/shared';
import type { LimitName } from '../../limits/counters.js';
import { createTokenBucket, type TokenBucket } from '../../limits/tokenBucket.js';
import { exceedsJsonDepth } from '../jsonDepth.js';
import { isObject } from './trpcProtocol.js';

/** Frame limits, the same for every connection of a server (shared, not copied per connection). */
export interface FrameLimits {
  /** Inbound frames per second (sustained) and burst, per connection. */
  framesPerSecond: number;
  frameBurst: number;
  maxJsonDepth: number;
  /** Largest `connectionParams` frame, and the most a socket may send before it. */
  preAuthBytes: number;
}

/** Why a frame was refused: the counter to bump, the close code and its reason. */
export interface Refusal {
  limit: LimitName;
  code: number;
  reason: string;
}

/** A frame's text, `'ping'`/`'pong'` for keepalive frames, or why it is refused. */
export type Screened = { text: string } | 'ping' | 'pong' | Refusal;

/** True when `s` is a refusal. */
export const isRefusal = (s: Screened): s is Refusal => typeof s === 'object' && 'limit' in s;

/** True for `{"method":"connectionParams","data":{…strings}|null}`, the only valid first frame. */
export function isConnectionParamsFrame(text: string): boolean {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return false;
  }
  if (!isObject(msg) || msg['method'] !== 'connectionParams') return false;
  const data = msg['data'];
  if (data === null || data === undefined) return true;
  return isObject(data) && Object.values(data).every((v) => typeof v === 'string');
}

const refuse = (limit: LimitName, code: number, reason: string): Refusal => ({
  limit,
  code,
  reason,
});

/** The refusal for a socket that sent more than `preAuthBytes` before its credentials. */
export const preAuthOverflow = (limits: FrameLimits): Refusal =>
  refuse(
    'preauth_bytes',
    CLOSE_CODES.MESSAGE_TOO_BIG,
    `more than ${limits.preAuthBytes} bytes before connectionParams`,
  );

/**
 * Per-connection screening state: the frame budget. One small object per connection; the
 * limits are shared.
 */
export class FrameGuard {
  readonly #limits: FrameLimits;
  readonly #bucket: TokenBucket;

  constructor(limits: FrameLimits) {
    this.#limits = limits;
    this.#bucket = createTokenBucket({
      perSecond: limits.framesPerSecond,
      burst: limits.frameBurst,
    });
  }

  /**
   * Screens one frame. `firstFrame`: the client announced `?connectionParams=1` and this is
   * its first frame, which must be that message (keepalive frames aside).
   */
  screen(data: unknown, isBinary: boolean, firstFrame: boolean): Screened {
    const limits = this.#limits;
    if (!this.#bucket.take().ok)
      return refuse('frame_rate', CLOSE_CODES.RATE_LIMITED, 'too many frames');
    if (isBinary || !Buffer.isBuffer(data))
      return refuse('binary_frame', CLOSE_CODES.PROTOCOL_ERROR, 'binary frames are not supported');
    if (firstFrame && data.length > limits.preAuthBytes) return preAuthOverflow(limits);
    const text = data.toString('utf8');
    if (text === 'PING') return 'ping';
    if (text === 'PONG') return 'pong';
    if (exceedsJsonDepth(text, limits.maxJsonDepth)) {
      return refuse(
        'json_depth',
        CLOSE_CODES.PROTOCOL_ERROR,
        `JSON nested deeper than ${limits.maxJsonDepth}`,
      );
    }
    if (firstFrame && !isConnectionParamsFrame(text)) {
      return refuse(
        'malformed_connection_params',
        CLOSE_CODES.PROTOCOL_ERROR,
        'first frame must be {"method":"connectionParams","data":{…}}',
      );
    }
    return { text };
  }
}
