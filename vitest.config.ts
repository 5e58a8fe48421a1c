import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@tracewire/shared': src('./shared/src/index.ts'),
      '@tracewire/otel': src('./otel/src/index.ts'),
      // Before '@tracewire/server', which would match it as a prefix.
      '@tracewire/server/testing': src('./server/src/testing/index.ts'),
      '@tracewire/server': src('./server/src/index.ts'),
      '@tracewire/client': src('./client-sdk/src/index.ts'),
    },
  },
  test: {
    include: ['{shared,otel,server,client-sdk}/src/**/*.test.ts', 'test/**/*.test.ts'],
    restoreMocks: true,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    retry: process.env['CI'] ? 1 : 0,
  },
});
