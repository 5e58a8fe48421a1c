import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const BROWSER_ENTRIES = ['clientLink.ts', 'meta.ts', 'semconv.ts', 'logging.ts'];
const ALLOWED =
  /^(@opentelemetry\/api|@trpc\/client|@trpc\/server|@trpc\/server\/observable|@tracewire\/shared)$/;

/** Every module a file imports at runtime (type-only imports excluded), following relative ones. */
function runtimeImports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const src = readFileSync(fileURLToPath(new URL(file, import.meta.url)), 'utf8');
  for (const m of src.matchAll(/^import (?!type )[^;]*? from '([^']+)';/gms)) {
    const spec = m[1]!;
    if (spec.startsWith('./')) runtimeImports(spec.slice(2).replace(/\.js$/, '.ts'), seen);
    else seen.add(spec);
  }
  return seen;
}

describe('browser-safe modules', () => {
  test('the client link, meta carrier, names and log mixin import nothing Node-specific', () => {
    for (const entry of BROWSER_ENTRIES) {
      const external = [...runtimeImports(entry)].filter((s) => !s.endsWith('.ts'));
      expect(
        external.filter((s) => !ALLOWED.test(s)),
        entry,
      ).toEqual([]);
    }
    expect(runtimeImports('clientLink.ts')).toContain('@trpc/server/observable'); // the scan sees real imports
    expect(runtimeImports('setup.ts')).toContain('@opentelemetry/context-async-hooks');
  });
});
