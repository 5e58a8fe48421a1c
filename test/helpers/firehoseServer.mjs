// Child-process entry for delivery tests: the built server (server/dist) serving the
// `firehose` test agent (N deltas of S characters, no pacing) next to the demo agent.
// Same start line and SIGTERM handling as server/dist/main.js; plain JS so that it runs
// with `node` and no build step of its own. Requires `npx tsc -b server` first.
import process from 'node:process';
import { createTracewire } from '../../server/dist/app.js';
import { demoAgent } from '../../server/dist/agents/demoAgent.js';
import { loadConfig } from '../../server/dist/config.js';
import { createLogger } from '../../server/dist/logger.js';

const firehoseAgent = {
  name: 'firehose',
  description: 'Emits N message_delta events quickly (tests only)',
  tools: [],
  async run(ctx) {
    const m = /firehose (\d+)(?: (\d+))?/.exec(ctx.message.content);
    const count = Number(m?.[1] ?? 100);
    const size = Math.max(1, Number(m?.[2] ?? 8));
    for (let i = 0; i < count; i++) await ctx.delta(`${i};`.padEnd(size, '.'));
  },
};

const config = loadConfig();
const logger = createLogger({ level: config.logLevel });
const server = await createTracewire({ config, logger, agents: [firehoseAgent, demoAgent] });
process.stdout.write(`Tracewire listening on ${server.url}\n`);
process.once('SIGTERM', () => {
  server.stop().then(
    () => process.exit(0),
    (err) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
});
