// @ts-check
/**
 * Bundles the tsc output in dist/ into the published entry points:
 *
 * - dist/index.js (+ dist/cli/chat.js): ESM with `@tracewire/shared` inlined, so the package
 *   needs no workspace package at runtime; only real npm dependencies stay imports.
 * - dist/index.d.ts: one declaration file with the router type (`AppRouter`) and the shared
 *   contract types inlined (rollup-plugin-dts), so a consumer type-checks against the built
 *   package alone. The router's context type (server internals: services, logger, store) is
 *   replaced by `object`: the client never uses it (`TRPCClient` reads only the router's
 *   record, error shape and transformer flag).
 *
 * Run after `tsc -b` (see package.json "build").
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dts } from 'rollup-plugin-dts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

/** Workspace packages that are inlined (never published as dependencies of the SDK). */
const INLINE = {
  js: {
    '@tracewire/shared': resolve(root, 'shared/dist/index.js'),
    // Only the browser-safe client link of @tracewire/otel is used (never its Node setup).
    '@tracewire/otel': resolve(root, 'otel/dist/clientLink.js'),
  },
  dts: {
    '@tracewire/shared': resolve(root, 'shared/dist/index.d.ts'),
    '@tracewire/server': resolve(root, 'server/dist/index.d.ts'),
  },
};

/**
 * Imports the published files may keep: the package's dependencies (+ zod, types only).
 * The SDK chunks must stay browser-safe (no Node built-ins, no `ws`/`eventsource`: users
 * inject those); only the terminal client may use them.
 */
const ALLOWED_EXTERNAL = {
  js: ['@trpc/client', '@trpc/server', 'superjson', '@opentelemetry/api'],
  cli: ['ws', 'eventsource'],
  dts: ['@trpc/client', '@trpc/server', 'superjson', 'zod', '@opentelemetry/api'],
};

const isBare = (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0');
const pkgName = (id) =>
  id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : id.split('/')[0];

/**
 * Resolves the inlined workspace packages to their built files; every other bare import is
 * external and must be allowed (the build fails otherwise, e.g. if server types started to
 * leak `pino` or `kysely` into the public declarations).
 * @param {'js' | 'dts'} kind
 * @returns {import('rollup').Plugin}
 */
function workspaceInline(kind) {
  const inline = INLINE[kind];
  const externals = new Set();
  return {
    name: `tracewire-inline-${kind}`,
    resolveId(source, importer) {
      if (importer === undefined) return null;
      if (source in inline) return inline[/** @type {keyof typeof inline} */ (source)];
      if (isBare(source) && !source.startsWith('node:')) {
        externals.add(pkgName(source));
        return { id: source, external: true };
      }
      if (source.startsWith('node:')) {
        externals.add(source);
        return { id: source, external: true };
      }
      return null;
    },
    transform(code, id) {
      if (kind !== 'dts' || !id.startsWith(resolve(root, 'server/dist'))) return null;
      // Server context types (Services, Logger, ...) are not part of the client's contract.
      return code.replace(
        /import\("(?:\.\.?\/)+context\.js"\)\.(?:BaseContext|CallContext)/g,
        'object',
      );
    },
    writeBundle() {
      // The tsc map of the unbundled index.d.ts no longer matches the bundled file.
      if (kind === 'dts') rmSync(resolve(here, 'dist/index.d.ts.map'), { force: true });
    },
    generateBundle(_options, bundle) {
      const allowed = new Set(ALLOWED_EXTERNAL[kind]);
      const used = new Set();
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue;
        const isCli = chunk.name.startsWith('cli/');
        for (const imp of chunk.imports) {
          if (imp in bundle) continue;
          const name = imp.startsWith('node:') ? imp : pkgName(imp);
          if (isCli && (imp.startsWith('node:') || ALLOWED_EXTERNAL.cli.includes(name))) continue;
          used.add(name);
        }
      }
      const bad = [...used].filter((name) => !allowed.has(name));
      if (bad.length > 0) {
        this.error(
          `${kind} bundle imports ${bad.join(', ')}: not allowed in the published package`,
        );
      }
      if (kind === 'dts') {
        const text = Object.values(bundle)
          .map((c) => (c.type === 'chunk' ? c.code : ''))
          .join('\n');
        if (/BaseContext|(?:from |import\()["']@tracewire\//.test(text)) {
          this.error('dts bundle still references server context or @tracewire/* packages');
        }
      }
    },
  };
}

const pkg = JSON.parse(readFileSync(resolve(here, 'package.json'), 'utf8'));

/** @type {import('rollup').RollupOptions[]} */
export default [
  {
    input: { index: 'dist/index.js', 'cli/chat': 'dist/cli/chat.js' },
    plugins: [workspaceInline('js')],
    // zod schema builders in the inlined contract have no side effects the SDK needs.
    treeshake: {
      moduleSideEffects: (id, external) => !external && !id.startsWith(resolve(root, 'shared')),
      manualPureFunctions: ['z'],
    },
    output: {
      dir: 'dist',
      format: 'es',
      sourcemap: true,
      entryFileNames: '[name].js',
      chunkFileNames: 'chunks/[name]-[hash].js',
      banner: (chunk) => (chunk.name === 'index' ? `/* ${pkg.name} ${pkg.version} */` : ''),
    },
  },
  {
    input: 'dist/index.d.ts',
    plugins: [workspaceInline('dts'), dts({ respectExternal: false })],
    output: { file: 'dist/index.d.ts', format: 'es' },
  },
];
