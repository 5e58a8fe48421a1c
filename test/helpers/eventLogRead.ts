import type { AgentEvent, ThreadId } from '@tracewire/shared';
import type { EventLog } from '@tracewire/server';

/** Every retained event of a thread in its current epoch, oldest first (the server's truth). */
export async function readWholeStream(events: EventLog, threadId: string): Promise<AgentEvent[]> {
  const out: AgentEvent[] = [];
  for (;;) {
    const page = await events.read(threadId as ThreadId, out.at(-1)?.seq ?? 0, 1000);
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

/** Waits until the thread's log holds the terminal event of `runId`; returns the whole log. */
export async function waitForTerminalInLog(
  events: EventLog,
  threadId: string,
  runId: string,
  timeoutMs = 15_000,
): Promise<AgentEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await readWholeStream(events, threadId);
    if (
      log.some(
        (e) => e.runId === runId && (e.type === 'agent_completed' || e.type === 'agent_error'),
      )
    )
      return log;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not end within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
