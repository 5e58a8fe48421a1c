import { parseArgs } from 'node:util';
import { AppError } from '@tracewire/shared';
import { ConfigError, loadConfig } from '../config.js';
import { signToken } from '../auth/tokens.js';

/**
 * `tracewire token --user alice [--expires 24h] [--service name]`: prints a token signed
 * with the configured secret (the public dev secret when no key of any kind is configured,
 * outside production).
 */
async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      user: { type: 'string', short: 'u' },
      expires: { type: 'string', short: 'e', default: '24h' },
      service: { type: 'string', short: 's' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0] ?? 'token';
  if (command !== 'token' || positionals.length > 1) {
    process.stderr.write(`unknown command: ${positionals.join(' ')}\n`);
    process.exit(2);
  }
  if (values.help || !values.user) {
    process.stderr.write('usage: tracewire token --user <id> [--expires 24h] [--service <name>]\n');
    process.exit(values.help ? 0 : 2);
  }
  const config = loadConfig();
  const token = await signToken({
    ...config.auth,
    userId: values.user,
    expiresIn: values.expires,
    ...(values.service ? { service: values.service } : {}),
  });
  process.stdout.write(`${token}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `${err instanceof ConfigError || AppError.is(err) ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
