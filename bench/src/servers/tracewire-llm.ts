/**
 * Tracewire serving the LLM agent (the default agent once an endpoint is configured) against
 * the scripted endpoint of `llm-endpoint.js` at zero delay: S5 beside the demo agent, the
 * platform's cost of a model-driven turn (two model calls, one tool call, the tool loop).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const endpoint = fork(fileURLToPath(new URL('./llm-endpoint.js', import.meta.url)), [], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
process.on('exit', () => endpoint.kill('SIGKILL'));
const baseUrl = await new Promise<string>((resolve, reject) => {
  endpoint.once('message', (m: { type: string; baseUrl: string }) => resolve(m.baseUrl));
  endpoint.once('exit', (code) => reject(new Error(`llm endpoint exited (code ${code})`)));
});
process.env['TRACEWIRE_LLM_BASE_URL'] = baseUrl;
process.env['TRACEWIRE_LLM_MODEL'] = 'scripted-model';
await import('./tracewire.js');
