import type { TracewireMetrics } from '@tracewire/otel';
import type { Logger } from 'pino';
import type { AgentRegistry } from './agents/registry.js';
import type { RunManager } from './agents/types.js';
import type { Authenticator } from './auth/tokens.js';
import type { Config } from './config.js';
import type { EventLog } from './events/eventLog.js';
import type { ChatStore } from './storage/chatStore.js';
import type { KeyedMutex } from './util/keyedMutex.js';

/** Everything a procedure needs, built once per server (no per-user singletons inside). */
export interface Services {
  config: Config;
  logger: Logger;
  auth: Authenticator;
  store: ChatStore;
  events: EventLog;
  agents: AgentRegistry;
  runs: RunManager;
  /** Per-thread lock shared by the run manager and `chat.history` (consistent snapshots). */
  locks: KeyedMutex;
  /** OpenTelemetry instruments (no-ops when telemetry is off). */
  metrics: TracewireMetrics;
  /** Agent of threads created without one (the first registered). */
  defaultAgent: string;
}
