import { AppError } from '@tracewire/shared';
import { z } from 'zod';
import { defineTool } from '../define.js';
import { fromSync } from './fromSync.js';

/** Formatters by zone: building one costs ~0.4 ms, formatting with it microseconds. */
const formatters = new Map<string, Intl.DateTimeFormat>();
const MAX_FORMATTERS = 64;

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, dateStyle: 'full', timeStyle: 'long' });
    if (formatters.size >= MAX_FORMATTERS) formatters.clear();
    formatters.set(timeZone, f);
  }
  return f;
}

/** Formats `date` in `timeZone`; throws BAD_REQUEST for a zone Intl does not know. */
function formatIn(date: Date, timeZone: string): string {
  try {
    return formatterFor(timeZone).format(date);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new AppError('BAD_REQUEST', `Unknown time zone "${timeZone}"`, { cause: error });
    }
    throw error;
  }
}

/**
 * The current time: ISO timestamp plus the local time in an IANA zone (default UTC),
 * formatted with Intl. An unknown zone fails the call with BAD_REQUEST.
 */
export const clockTool = defineTool({
  name: 'clock',
  description:
    'Returns the current time, as ISO 8601 and formatted in an IANA time zone (default UTC).',
  args: z.object({ timeZone: z.string().min(1).max(64).optional() }),
  execute: ({ timeZone = 'UTC' }, ctx) =>
    fromSync(() => {
      ctx.signal.throwIfAborted();
      const now = new Date();
      return {
        iso: now.toISOString(),
        epochMs: now.getTime(),
        timeZone,
        local: formatIn(now, timeZone),
      };
    }),
});
