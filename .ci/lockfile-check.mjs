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

/** The lockfile's packages without other-platform optional entries that `other` lacks. */
const comparablePackages = (lock, other) =>
  Object.fromEntries(
    Object.entries(lock.packages ?? {}).filter(
      ([path, entry]) => !isOtherPlatformOptional(entry) || path in (other.packages ?? {}),
    ),
  );

const a = comparablePackages(committed, installed);
const b = comparablePackages(installed, committed);
const differences = [];
for (const path of new Set([...Object.keys(a), ...Object.keys(b)])) {
  if (JSON.stringify(a[path]) !== JSON.stringify(b[path])) differences.push(path || '(root)');
}
const { packages: _a, ...headerA } = committed;
const { packages: _b, ...headerB } = installed;
if (JSON.stringify(headerA) !== JSON.stringify(headerB)) differences.push('(lockfile header)');

const count = (lock) => Object.keys(lock.packages ?? {}).length;
const ignored = count(committed) - Object.keys(a).length + count(installed) - Object.keys(b).length;
if (differences.length > 0) {
  console.error(
    `package-lock.json is out of date: ${differences.slice(0, 20).join(', ')}${differences.length > 20 ? ', ...' : ''}`,
  );
  process.exit(1);
}
console.log(
  `package-lock.json is up to date (${ignored} other-platform optional entries listed on one side only, ignored)`,
);
