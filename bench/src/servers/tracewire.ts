import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTelemetry, traceLogMixin } from '@tracewire/otel';
import { createLogger, createTracewire, loadConfig, type AgentDefinition } from '@tracewire/server';
import { DELTA_TEXT, type StreamParams } from '../protocol.js';
import { produce } from '../produce.js';
import { serveBench } from './harness.js';

/**
 * The bench agent: reads the stream parameters from the message and emits `message_delta`
 * events through the run context, as fast as the platform accepts (each `delta()` is awaited).
 */
const benchAgent: AgentDefinition = {
  name: 'bench',
  description: 'Emits message_delta events as the benchmark asks',
  tools: [],
  async run(ctx) {
    const params = JSON.parse(ctx.message.content) as StreamParams;
    await produce({ params, signal: ctx.signal, emit: () => ctx.delta(DELTA_TEXT) });
  },
};

/**
 * Tracewire, full stack on the embedded default (SQLite in a temp dir, auth on), wired as
 * `npm start` does. `--default-agents` serves `npm start`'s agents (S5: the demo agent, or the
 * LLM agent first when `TRACEWIRE_LLM_BASE_URL` is set); otherwise the bench agent.
 */
await serveBench(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tracewire-bench-'));
  const config = loadConfig({
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    TRACEWIRE_DATA_DIR: dataDir,
  });
  // Same wiring as server/src/main.ts: the logger, telemetry reporting through it, the server.
  const logger = createLogger({ level: config.logLevel, mixin: traceLogMixin });
  const telemetry = startTelemetry({
    serviceName: 'tracewire',
    serviceVersion: 'bench',
    logger,
    exportThread: config.otlpExportThread,
  });
  const platformAgents = process.argv.includes('--default-agents');
  const server = await createTracewire({
    config,
    logger,
    meterProvider: telemetry.meterProvider,
    renderMetrics: () => telemetry.renderMetrics(),
    ...(platformAgents ? {} : { agents: [benchAgent] }),
  });
  return {
    httpServer: server.transport.httpServer,
    port: server.port,
    close: async () => {
      await server.stop();
      await telemetry.shutdown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
