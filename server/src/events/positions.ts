import { formatEventId, type Run, type ThreadId } from '@tracewire/shared';
import type { EventLog } from './eventLog.js';

/** Events read per page while looking for a retried run's first event. */
const SCAN_PAGE = 256;

/**
 * The position of a thread's stream now (`epoch:headSeq`), creating the stream when it does
 * not exist yet. Every event appended later has a greater seq (see {@link EventLog.head}), so
 * `agent.events` resumed from it misses nothing that comes after.
 */
export async function currentPosition(events: EventLog, threadId: ThreadId): Promise<string> {
  const head = await events.head(threadId);
  return formatEventId({ epoch: head.epoch, seq: head.headSeq });
}

/**
 * The position after which `run`'s first event comes, for `chat.send`.
 *
 * A new run (`created`) has appended nothing yet: its events are appended by the run manager
 * after this returns, so the head read now lies before all of them (call it before starting
 * the run). A retried send may return a run that has already emitted: the head is read first
 * (H), then the committed events up to H are searched for the run's first one; found at seq s,
 * the answer is s - 1, otherwise the run emitted nothing up to H and H is before its first
 * event. Only retries pay for the search (a few pages of the thread's retained events).
 */
export async function runStartPosition(
  events: EventLog,
  run: Pick<Run, 'id' | 'threadId'>,
  created: boolean,
): Promise<string> {
  const head = await events.head(run.threadId);
  let before = head.headSeq;
  if (!created) {
    for (let after = Math.max(0, head.firstSeq - 1); after < head.headSeq;) {
      const page = await events.read(run.threadId, after, SCAN_PAGE);
      const first = page.find((e) => e.runId === run.id && e.epoch === head.epoch);
      if (first) {
        before = Math.min(before, first.seq - 1);
        break;
      }
      const last = page.at(-1);
      if (!last || last.epoch !== head.epoch) break;
      after = last.seq;
    }
  }
  return formatEventId({ epoch: head.epoch, seq: before });
}
