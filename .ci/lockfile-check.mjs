// Is the committed package-lock.json still what `npm install` makes of package.json?
//
// Compares the committed lockfile (git HEAD) with the one `npm install` left, ignoring one kind of
// entry: optional packages for another platform (`optional` with `os` or `cpu`) that only one side
// lists. Whether npm records those depends on what the registry serves at the time (this registry
// has served rollup's other-platform packages on some days and not on others), not on the project.
// Any other difference (a version, an integrity, a dependency added or dropped) fails the check.
import { execFileSync } from 'node:child_process';
import console from 'node:console';
import { readFileSync } from 'node:fs';
import process from 'node:process';

const committed = JSON.parse(
  execFileSync('git', ['show', 'HEAD:package-lock.json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  }),
);
const installed = JSON.parse(readFileSync('package-lock.json', 'utf8'));

const isOtherPlatformOptional = (entry) =>
  entry?.optional === true && (entry.os !== undefined || entry.cpu !== undefined);

/** The lockfile's packages without one-sided other-platform optional entries. */
function comparable(lock, other) {
  const packages = {};
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (isOtherPlatformOptional(entry) && !(path in (other.packages ?? {}))) continue;
    packages[path] = entry;
  }
  return { ...lock, packages };
}

const a = comparable(committed, installed);
const b = comparable(installed, committed);
const differences = [];
for (const path of new Set([...Object.keys(a.packages), ...Object.keys(b.packages)])) {
  if (JSON.stringify(a.packages[path]) !== JSON.stringify(b.packages[path]))
    differences.push(path || '(root)');
}
const { packages: _a, ...restA } = a;
const { packages: _b, ...restB } = b;
if (JSON.stringify(restA) !== JSON.stringify(restB)) differences.push('(lockfile header)');

const ignored =
  Object.keys(installed.packages ?? {}).length -
  Object.keys(b.packages).length +
  Object.keys(committed.packages ?? {}).length -
  Object.keys(a.packages).length;
if (differences.length > 0) {
  console.error(
    `package-lock.json is out of date: ${differences.slice(0, 20).join(', ')}${differences.length > 20 ? ', ...' : ''}`,
  );
  process.exit(1);
}
console.log(
  `package-lock.json is up to date (${ignored} other-platform optional entries listed on one side only, ignored)`,
);
