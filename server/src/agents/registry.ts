import { AppError } from '@tracewire/shared';
import type { AgentDefinition } from './types.js';

/** The agents a server can run, by name. */
export interface AgentRegistry {
  /** The agent named `name`; throws `AppError` NOT_FOUND when there is none. */
  get(name: string): AgentDefinition;
  /** True when an agent of that name is registered. */
  has(name: string): boolean;
  /** All registered agents, in registration order. */
  list(): readonly AgentDefinition[];
}

/** Creates a registry; duplicate agent or tool names are a programming error and throw. */
export function createAgentRegistry(agents: readonly AgentDefinition[]): AgentRegistry {
  const byName = new Map<string, AgentDefinition>();
  for (const agent of agents) {
    if (byName.has(agent.name)) throw new Error(`Duplicate agent name "${agent.name}"`);
    const toolNames = new Set<string>();
    for (const tool of agent.tools) {
      if (toolNames.has(tool.name)) {
        throw new Error(`Agent "${agent.name}" has two tools named "${tool.name}"`);
      }
      toolNames.add(tool.name);
    }
    byName.set(agent.name, agent);
  }
  const list = [...byName.values()];
  return {
    get(name) {
      const agent = byName.get(name);
      if (!agent) throw new AppError('NOT_FOUND', `Unknown agent "${name}"`);
      return agent;
    },
    has: (name) => byName.has(name),
    list: () => list,
  };
}
