/**
 * The scripted OpenAI-compatible endpoint the LLM agent talks to in S5, in a process of its
 * own (as a model server would be): every turn is a calculator call then a streamed answer,
 * written at once (zero delay), so a turn's time is the platform's own cost. Reports its base
 * URL over IPC and exits with its parent.
 */
import { createToolLoopResponder, startScriptedLlmServer } from '@tracewire/server/testing';

const llm = await startScriptedLlmServer({ responder: createToolLoopResponder() });
process.send?.({ type: 'llm-ready', baseUrl: llm.baseUrl });
process.on('disconnect', () => void llm.close().finally(() => process.exit(0)));
