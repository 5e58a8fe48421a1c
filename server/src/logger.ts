import { pino, type Logger, type LoggerOptions } from 'pino';

/** Options for {@link createLogger}. */
export interface CreateLoggerOptions {
  level: string;
  /** Adds fields to every line (the OTel trace mixin plugs in here). */
  mixin?: LoggerOptions['mixin'];
  /** Destination stream; stdout by default. */
  destination?: NodeJS.WritableStream;
}

/** The base pino logger; per-call children add request_id and user_id. */
export function createLogger(opts: CreateLoggerOptions): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    base: { service: 'tracewire' },
    ...(opts.mixin ? { mixin: opts.mixin } : {}),
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
