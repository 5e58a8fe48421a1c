/**
 * The server's router type, the single source of the SDK's types. The published
 * `dist/index.d.ts` inlines it (see rollup.config.mjs), so consumers need no server source.
 */
export type { AppRouter } from '@tracewire/server';
