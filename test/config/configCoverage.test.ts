import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_VARIABLES } from '@tracewire/server';
import { expect, test } from 'vitest';

/**
 * Which test exercises the effect of each configuration variable (not only its parsing):
 * the server is started with the variable set and its behaviour checked from outside.
 * Adding a variable to the config schema without a test of its effect fails this file.
 */
const EFFECT_TESTS: Record<string, readonly string[]> = {
  NODE_ENV: ['test/security/responseHygiene.test.ts', 'test/security/authConfig.test.ts'],
  PORT: ['test/config/configEffects.test.ts'],
  HOST: ['test/config/configEffects.test.ts'],
  TRACEWIRE_DATA_DIR: ['test/config/configEffects.test.ts'],
  TRACEWIRE_AUTH_SECRET: ['test/security/authConfig.test.ts'],
  TRACEWIRE_AUTH_ISSUER: ['test/security/auth.test.ts'],
  TRACEWIRE_AUTH_AUDIENCE: ['test/security/auth.test.ts'],
  TRACEWIRE_AUTH_JWKS_URL: ['test/security/auth.test.ts'],
  TRACEWIRE_AUTH_PUBLIC_KEY: ['test/security/auth.test.ts', 'test/security/authConfig.test.ts'],
  TRACEWIRE_AUTH_ALLOW_NO_EXP: ['test/security/authConfig.test.ts'],
  TRACEWIRE_MAX_CONNECTION_LIFETIME_MS: ['test/security/authConfig.test.ts'],
  TRACEWIRE_WS_AUTH_TIMEOUT_MS: ['test/security/auth.test.ts'],
  TRACEWIRE_WS_MAX_UNAUTHENTICATED: ['test/security/wsPreAuth.test.ts'],
  TRACEWIRE_WS_PREAUTH_MAX_BYTES: ['test/security/wsPreAuth.test.ts'],
  TRACEWIRE_WS_RESPONSE_BUDGET_BYTES: ['test/security/wsResponseBudget.test.ts'],
  TRACEWIRE_ALLOWED_ORIGINS: ['test/security/auth.test.ts', 'test/security/cors.test.ts'],
  TRACEWIRE_MAX_CONNECTIONS: ['test/security/limits.test.ts'],
  TRACEWIRE_MAX_CONNECTIONS_PER_USER: ['test/security/limits.test.ts'],
  TRACEWIRE_MAX_SUBSCRIPTIONS_PER_CONNECTION: ['test/security/limits.test.ts'],
  TRACEWIRE_MUTATIONS_PER_SECOND: ['test/security/limits.test.ts'],
  TRACEWIRE_MUTATION_BURST: ['test/security/limits.test.ts'],
  TRACEWIRE_WS_FRAMES_PER_SECOND: ['test/security/hostileFrames.test.ts'],
  TRACEWIRE_WS_FRAME_BURST: ['test/security/hostileFrames.test.ts'],
  TRACEWIRE_WS_MAX_JSON_DEPTH: ['test/config/configEffects.test.ts'],
  TRACEWIRE_TOOL_BREAKER_FAILURES: ['test/security/tools.test.ts'],
  TRACEWIRE_TOOL_BREAKER_COOLDOWN_MS: ['test/security/tools.test.ts'],
  TRACEWIRE_EVENT_SPANS_PER_SECOND: ['test/otel/chatTurnTrace.test.ts'],
  TRACEWIRE_OTLP_EXPORT_THREAD: ['test/config/configEffects.test.ts'],
  TRACEWIRE_WEB: ['test/e2e/webPage.test.ts'],
  TRACEWIRE_LOG_LEVEL: ['test/config/configEffects.test.ts'],
  TRACEWIRE_AGENT_PACE_MS: ['test/e2e/core.test.ts'],
  TRACEWIRE_RUN_TIMEOUT_MS: ['test/security/tools.test.ts'],
  TRACEWIRE_TOOL_TIMEOUT_MS: ['test/config/configEffects.test.ts'],
  TRACEWIRE_SHUTDOWN_GRACE_MS: ['test/delivery/restart.test.ts'],
  TRACEWIRE_WS_PING_MS: ['test/delivery/heartbeat.test.ts'],
  TRACEWIRE_WS_PONG_WAIT_MS: ['test/delivery/heartbeat.test.ts'],
  TRACEWIRE_MAX_PAYLOAD_BYTES: ['test/security/limits.test.ts'],
  TRACEWIRE_MAX_BODY_BYTES: ['test/security/limits.test.ts'],
  TRACEWIRE_MAX_BATCH_SIZE: ['test/security/limits.test.ts'],
  TRACEWIRE_MAX_CONCURRENT_RUNS_PER_USER: ['test/security/limits.test.ts'],
  TRACEWIRE_MAX_THREADS_PER_USER: ['test/security/threadCap.test.ts'],
  TRACEWIRE_HTTP_RESPONSE_BUDGET_BYTES: ['test/security/denialOfService.test.ts'],
  TRACEWIRE_SSE_ENABLED: ['test/security/authConfig.test.ts'],
  TRACEWIRE_SEND_HIGH_WATER_BYTES: ['test/delivery/slowConsumer.test.ts'],
  TRACEWIRE_SLOW_CONSUMER_TIMEOUT_MS: ['test/delivery/slowConsumer.test.ts'],
  TRACEWIRE_SUBSCRIPTION_BUFFER_EVENTS: ['test/delivery/slowConsumer.test.ts'],
  TRACEWIRE_RETENTION_MAX_EVENTS: ['test/delivery/resync.test.ts'],
  TRACEWIRE_RETENTION_MAX_AGE_MS: ['test/config/configEffects.test.ts'],
  TRACEWIRE_LLM_BASE_URL: ['test/llm/llmAgent.e2e.test.ts'],
  TRACEWIRE_LLM_MODEL: ['test/llm/llmAgent.e2e.test.ts', 'test/llm/llmTrace.test.ts'],
  TRACEWIRE_LLM_API_KEY: ['test/llm/llmAgent.e2e.test.ts'],
  TRACEWIRE_LLM_MAX_STEPS: ['test/llm/llmConfigEffects.test.ts'],
  TRACEWIRE_LLM_MAX_TOKENS: ['test/llm/llmTrace.test.ts'],
  TRACEWIRE_LLM_TEMPERATURE: ['test/llm/llmTrace.test.ts'],
  TRACEWIRE_LLM_TIMEOUT_MS: ['test/llm/llmConfigEffects.test.ts'],
  TRACEWIRE_LLM_RETRIES: ['test/llm/llmConfigEffects.test.ts'],
  TRACEWIRE_LLM_RETRY_AFTER_MAX_MS: ['test/llm/llmConfigEffects.test.ts'],
  TRACEWIRE_LLM_REQUEST_USAGE: ['test/llm/llmConfigEffects.test.ts'],
  TRACEWIRE_LLM_RECORD_CONTENT: ['test/llm/llmTrace.test.ts'],
  TRACEWIRE_LLM_SYSTEM_PROMPT: ['test/llm/llmConfigEffects.test.ts'],
  TRACEWIRE_DATABASE_URL: ['test/cluster/engines.test.ts'],
  TRACEWIRE_REDIS_URL: ['test/cluster/engines.test.ts'],
  TRACEWIRE_REDIS_PREFIX: ['test/cluster/engines.test.ts'],
};

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

test('every configuration variable has a test of its effect, and every listed test sets it', () => {
  expect(Object.keys(EFFECT_TESTS).sort()).toEqual([...CONFIG_VARIABLES].sort());
  for (const [variable, files] of Object.entries(EFFECT_TESTS)) {
    expect(files.length, variable).toBeGreaterThan(0);
    for (const file of files) {
      expect(file, variable).toMatch(/^test\/.+\.test\.ts$/);
      const path = `${repoRoot}${file}`;
      expect(existsSync(path), `${variable}: ${file} exists`).toBe(true);
      expect(readFileSync(path, 'utf8'), `${variable}: ${file} uses it`).toContain(variable);
    }
  }
});
