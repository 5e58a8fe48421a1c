import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const KEY = 'sk-config-test-0123456789';

describe('LLM configuration', () => {
  test('is absent without TRACEWIRE_LLM_BASE_URL', () => {
    expect(loadConfig({}).llm).toBeUndefined();
  });

  test('has sensible defaults with a URL and a model', () => {
    const config = loadConfig({
      TRACEWIRE_LLM_BASE_URL: 'http://127.0.0.1:8080/v1',
      TRACEWIRE_LLM_MODEL: 'qwen3',
    });
    expect(config.llm).toEqual({
      baseUrl: 'http://127.0.0.1:8080/v1',
      model: 'qwen3',
      apiKey: undefined,
      maxSteps: 8,
      maxTokens: 0,
      temperature: undefined,
      timeoutMs: 60_000,
      retries: 2,
      retryAfterMaxMs: 30_000,
      requestUsage: true,
      recordContent: false,
      systemPrompt: undefined,
    });
  });

  test('the API key prints as [redacted] however the configuration is logged', () => {
    const config = loadConfig({
      TRACEWIRE_LLM_BASE_URL: 'https://api.example.com/v1',
      TRACEWIRE_LLM_MODEL: 'm',
      TRACEWIRE_LLM_API_KEY: KEY,
    });
    expect(config.llm?.apiKey?.reveal()).toBe(KEY);
    expect(JSON.stringify(config)).not.toContain(KEY);
    expect(inspect(config, { depth: 10 })).not.toContain(KEY);
    expect(`${String(config.llm?.apiKey)}`).toBe('[redacted]');
    expect(JSON.stringify(config.llm)).toContain('"apiKey":"[redacted]"');
  });

  test.each([
    [{ TRACEWIRE_LLM_BASE_URL: 'http://x/v1' }, /TRACEWIRE_LLM_MODEL: required/],
    [{ TRACEWIRE_LLM_BASE_URL: 'not a url', TRACEWIRE_LLM_MODEL: 'm' }, /TRACEWIRE_LLM_BASE_URL/],
    [{ TRACEWIRE_LLM_MAX_STEPS: '0' }, /TRACEWIRE_LLM_MAX_STEPS/],
    [{ TRACEWIRE_LLM_TEMPERATURE: '3' }, /TRACEWIRE_LLM_TEMPERATURE/],
    [{ TRACEWIRE_LLM_RETRIES: 'many' }, /TRACEWIRE_LLM_RETRIES/],
    [{ TRACEWIRE_LLM_RECORD_CONTENT: 'yes' }, /TRACEWIRE_LLM_RECORD_CONTENT/],
    [{ TRACEWIRE_LLM_TIMEOUT_MS: '5' }, /TRACEWIRE_LLM_TIMEOUT_MS/],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test('a configuration error never echoes the API key', () => {
    let message = '';
    try {
      loadConfig({
        TRACEWIRE_LLM_API_KEY: KEY,
        TRACEWIRE_LLM_RETRIES: 'x',
        TRACEWIRE_LLM_BASE_URL: KEY,
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/TRACEWIRE_LLM_RETRIES/);
    expect(message).toMatch(/TRACEWIRE_LLM_BASE_URL/);
    expect(message).not.toContain(KEY);
  });
});
