import { EventEmitter } from 'node:events';
import { CLOSE_CODES } from '@tracewire/shared';
import type { WebSocket } from 'ws';
import type { LimitName } from '../limits/counters.js';
import { createTokenBucket, type TokenBucket } from '../limits/tokenBucket.js';
import type { Connection } from './connections.js';
import { exceedsJsonDepth } from './jsonDepth.js';

/** Frame limits, the same for every connection of a server (shared, not copied per connection). */
export interface FrameGuardSettings {
  /** Inbound frames per second (sustained) and burst, per connection. */
  framesPerSecond: number;
  frameBurst: number;
  maxJsonDepth: number;
  /** Counts a refusal. */
  onRefusal(name: LimitName): void;
}

/** Takes some messages of an admitted frame before tRPC's handler sees the rest. */
export interface FrameDiverter {
  /** undefined: the frame goes on as it is; null: nothing goes on; a string: what goes on. */
  take(text: string): string | null | undefined;
}

/** Options of {@link guardFrames}. */
export interface FrameGuardOptions {
  settings: FrameGuardSettings;
  /** The client announced `?connectionParams=1`: its first frame must be that message. */
  expectsConnectionParams: boolean;
  /** Sees every admitted frame after the first (`connectionParams`) one. */
  diverter?: FrameDiverter;
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
 * Frames arriving while the connection is closing are dropped too. An admitted frame then
 * goes to the diverter, if any, which may take some of its messages (see wsSubscriptions.ts).
 */
export function guardFrames(ws: WebSocket, conn: Connection, opts: FrameGuardOptions): void {
  const guard = new FrameGuard(conn, opts);
  (ws as GuardedSocket)[GUARD] = guard;
  ws.emit = guardedEmit as typeof ws.emit;
}

const GUARD = Symbol('tracewire.frameGuard');
type GuardedSocket = WebSocket & { [GUARD]: FrameGuard };
// Called with the socket as `this` (see guardedEmit).
// eslint-disable-next-line @typescript-eslint/unbound-method
const emitUnguarded = EventEmitter.prototype.emit;

/**
 * `emit` of every guarded socket. tRPC registers its own 'message' listener; screening at
 * emit is the one place that can drop a frame before any listener runs. One shared
 * function (the state lives on the socket), not a closure per connection.
 */
function guardedEmit(this: GuardedSocket, event: string | symbol, ...args: unknown[]): boolean {
  if (event === 'message') {
    const admitted = this[GUARD].admit(args[0], args[1]);
    if (admitted === false) return false;
    if (admitted !== true) args[0] = admitted; // what the diverter left
  }
  return emitUnguarded.call(this, event, ...args);
}

/** Per-connection screening state: the frame budget and whether the first frame is due. */
class FrameGuard {
  readonly #bucket: TokenBucket;
  #awaitingParams: boolean;

  private readonly settings: FrameGuardSettings;
  private readonly diverter: FrameDiverter | undefined;

  constructor(
    private readonly conn: Connection,
    { settings, expectsConnectionParams, diverter }: FrameGuardOptions,
  ) {
    this.settings = settings;
    this.diverter = diverter;
    this.#bucket = createTokenBucket({
      perSecond: settings.framesPerSecond,
      burst: settings.frameBurst,
    });
    this.#awaitingParams = expectsConnectionParams;
  }

  #refuse(name: LimitName, code: number, reason: string): false {
    this.settings.onRefusal(name);
    this.conn.close(code, reason);
    return false;
  }

  /** False: dropped; true: goes on as it is; a Buffer: goes on as this (see FrameDiverter). */
  admit(data: unknown, isBinary: unknown): boolean | Buffer {
    const { conn, settings } = this;
    if (conn.state === 'closing' || conn.state === 'closed') return false;
    // Any frame, even one refused below, shows the peer is alive (the keepalive's clock).
    conn.heard();
    if (!this.#bucket.take().ok)
      return this.#refuse('frame_rate', CLOSE_CODES.RATE_LIMITED, 'too many frames');
    if (isBinary === true || !Buffer.isBuffer(data)) {
      return this.#refuse(
        'binary_frame',
        CLOSE_CODES.PROTOCOL_ERROR,
        'binary frames are not supported',
      );
    }
    const text = data.toString('utf8');
    if (text === 'PING' || text === 'PONG') return true;
    if (exceedsJsonDepth(text, settings.maxJsonDepth)) {
      return this.#refuse(
        'json_depth',
        CLOSE_CODES.PROTOCOL_ERROR,
        `JSON nested deeper than ${settings.maxJsonDepth}`,
      );
    }
    if (this.#awaitingParams) {
      this.#awaitingParams = false;
      if (!isConnectionParamsFrame(text)) {
        return this.#refuse(
          'malformed_connection_params',
          CLOSE_CODES.PROTOCOL_ERROR,
          'first frame must be {"method":"connectionParams","data":{…}}',
        );
      }
      return true;
    }
    const rest = this.diverter?.take(text);
    if (rest === undefined) return true;
    return rest === null ? false : Buffer.from(rest, 'utf8');
  }
}
