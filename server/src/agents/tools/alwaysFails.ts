import { AppError } from '@tracewire/shared';
import { z } from 'zod';
import { defineTool } from '../define.js';
import { fromSync } from './fromSync.js';

/**
 * A tool that always fails (UNAVAILABLE), standing in for a broken downstream service.
 * The demo agent calls it on `fail-tool` so clients and tests can see the failure path.
 */
export const alwaysFailsTool = defineTool({
  name: 'alwaysFails',
  description: 'Simulates a broken downstream service: every call fails.',
  args: z.object({ reason: z.string().max(200).optional() }),
  execute: ({ reason }, ctx) =>
    fromSync((): never => {
      ctx.signal.throwIfAborted();
      throw new AppError(
        'UNAVAILABLE',
        `The downstream service is unavailable${reason ? ` (${reason})` : ''}`,
      );
    }),
});
