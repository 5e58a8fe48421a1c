/**
 * `npm run schema`: writes the JSON Schema files of the contract to shared/schema/ (and
 * removes files there that are no longer generated). `npm test` fails while the committed
 * files differ from what this writes (shared/src/jsonSchema.test.ts).
 */
import { readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJsonSchemaFiles } from '../jsonSchema.js';

const dir = fileURLToPath(new URL('../../schema/', import.meta.url));
const files = createJsonSchemaFiles();
mkdirSync(dir, { recursive: true });
for (const name of readdirSync(dir)) {
  if (name.endsWith('.json') && !files.has(name)) rmSync(join(dir, name));
}
for (const [name, text] of files) writeFileSync(join(dir, name), text);
process.stdout.write(`wrote ${files.size} files to shared/schema/\n`);
