import { defineConfig } from 'vite';

/**
 * Builds the web chat into web/dist, which the server serves at `/` under a strict
 * Content-Security-Policy: no inline script or style, so no module-preload polyfill (Vite
 * would add one to the entry) and assets as files only.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: true,
    reportCompressedSize: false,
  },
});
