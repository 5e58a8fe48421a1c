import { startTelemetry, traceLogMixin } from '@tracewire/otel';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createTracewire } from './app.js';
import { announceAuth } from './auth/announce.js';

const VERSION = '0.1.0';

/** `npm start`: the embedded default (SQLite, in-process fan-out, demo agent). */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  // The logger first: telemetry reports bad OTEL_* values and the SDK's own warnings (dropped
  // spans, failed exports) through it. The mixin reads the active span per line, so it sees
  // the providers telemetry registers right after.
  const logger = createLogger({ level: config.logLevel, mixin: traceLogMixin });
  const telemetry = startTelemetry({
    serviceName: 'tracewire',
    serviceVersion: VERSION,
    logger,
    exportThread: config.otlpExportThread,
  });
  const server = await createTracewire({
    config,
    logger,
    meterProvider: telemetry.meterProvider,
    renderMetrics: () => telemetry.renderMetrics(),
  });
  const { tracesUrl, consoleTraces, tracingDisabled, sampler, ratio, exportThread } =
    telemetry.config;
  logger.info(
    {
      traces: tracingDisabled ? 'disabled' : (tracesUrl ?? (consoleTraces ? 'console' : 'none')),
      sampler,
      ratio,
      exportThread,
    },
    'telemetry started',
  );
  process.stdout.write(`Tracewire listening on ${server.url}\n`);
  await announceAuth(config, logger);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutdown requested');
    server
      .stop()
      .then(() => telemetry.shutdown())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `Tracewire failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
});
