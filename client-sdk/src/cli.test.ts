import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { startTestServer } from '../../test/helpers/server.js';
import {
  answerReply,
  chunk,
  startScriptedLlmServer,
  toolCallReply,
} from '../../server/src/testing/index.js';

const chatJs = fileURLToPath(new URL('../dist/cli/chat.js', import.meta.url));

/** Runs the built terminal client with piped stdin; resolves with its exit code and output. */
function runCli(env: Record<string, string>, stdin: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [chatJs], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('the built terminal client (dist/cli/chat.js)', () => {
  beforeAll(() => {
    if (!existsSync(chatJs))
      throw new Error('client-sdk/dist is missing: run `npm run build -w @tracewire/client`');
  });

  test('sends each piped line, renders the run live and exits 0 at EOF', async () => {
    await using server = await startTestServer();
    const token = await server.tokenFor('cli-user');
    const { code, stdout, stderr } = await runCli(
      { TRACEWIRE_URL: server.url, TRACEWIRE_TOKEN: token },
      'what is 12 * 12?\nhello\n',
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^thread thr_\w+\n> what is 12 \* 12\?\n/);
    expect(stdout).toMatch(/\n> hello\n/);
    expect(stdout).toMatch(/-> calculator\(.*12 \* 12/);
    expect(stdout).toMatch(/<- calculator: .*"value":144/);
    expect(stdout).toContain('12 * 12 = 144');
    expect(stdout.match(/\[demo\] working/g)).toHaveLength(2);
    expect(stdout).not.toContain('\x1b['); // no colour when stdout is not a terminal
  });

  test('renders the LLM agent’s stream like the demo’s: thinking, tool calls, the answer', async () => {
    const call = toolCallReply({
      id: 'c1',
      name: 'calculator',
      args: ['{"expression": ', '"12 * 12"}'],
    });
    await using llm = await startScriptedLlmServer({
      replies: [
        {
          events: [
            chunk({ role: 'assistant', reasoning_content: 'The user wants ' }),
            chunk({ reasoning_content: 'a product.' }),
            ...(call.events ?? []),
          ],
        },
        answerReply(['12 * 12 ', 'is 144.']),
      ],
    });
    await using server = await startTestServer({
      env: { TRACEWIRE_LLM_BASE_URL: llm.baseUrl, TRACEWIRE_LLM_MODEL: 'scripted-model' },
    });
    const token = await server.tokenFor('cli-user');
    const { code, stdout, stderr } = await runCli(
      { TRACEWIRE_URL: server.url, TRACEWIRE_TOKEN: token },
      'what is 12 * 12?\n',
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/\[llm\] working\.\.\.\nthinking: The user wants a product\.\n/);
    expect(stdout).toMatch(
      /-> calculator\(\{"expression":"12 \* 12"\}\)\n<- calculator: .*"value":144/,
    );
    expect(stdout).toMatch(/\n12 \* 12 is 144\.\n$/);
  });

  test('TRACEWIRE_AGENT picks the new thread’s agent', async () => {
    await using llm = await startScriptedLlmServer();
    await using server = await startTestServer({
      env: { TRACEWIRE_LLM_BASE_URL: llm.baseUrl, TRACEWIRE_LLM_MODEL: 'scripted-model' },
    });
    const token = await server.tokenFor('cli-user');
    const { code, stdout } = await runCli(
      { TRACEWIRE_URL: server.url, TRACEWIRE_TOKEN: token, TRACEWIRE_AGENT: 'demo' },
      'what is 2 + 2?\n',
    );
    expect(code).toBe(0);
    expect(stdout).toContain('[demo] working');
    // The demo thinks in whole sentences: one block, a space between them.
    expect(stdout).toMatch(/thinking: Reading the message: "what is 2 \+ 2\?" Plan: /);
    expect(stdout).toContain('2 + 2 = 4.');
    expect(llm.requests).toHaveLength(0);
  });

  test('in a terminal it echoes what the user types and shows the answer after it', async () => {
    await using server = await startTestServer();
    const token = await server.tokenFor('tty-user');
    // util-linux `script` runs the client on a pseudo-terminal: stdin is a TTY, as for a user.
    const child = spawn('script', ['-qfec', `${process.execPath} ${chatJs}`, '/dev/null'], {
      env: {
        PATH: process.env['PATH'] ?? '',
        TRACEWIRE_URL: server.url,
        TRACEWIRE_TOKEN: token,
        NO_COLOR: '1',
        TERM: 'dumb',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    let screen = '';
    const waitFor = (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${String(pattern)} in:\n${screen}`)),
          15_000,
        );
        const check = () => {
          if (!pattern.test(screen)) return;
          clearTimeout(timer);
          child.stdout.off('data', check);
          resolve();
        };
        child.stdout.on('data', check);
        check();
      });
    child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitFor(/thread thr_\w+\r?\n> /);
    child.stdin.write('what is 3 * 5?\r');
    await waitFor(/3 \* 5 = 15/);
    child.stdin.write('/quit\r');
    expect(await exited).toBe(0);
    // The typed line is on screen (echoed by the terminal), then the run.
    expect(screen).toMatch(/> what is 3 \* 5\?\r*\n[^]*\[demo\] working[^]*3 \* 5 = 15/);
  });

  test('without a token it explains how to get one and exits 2', async () => {
    const { code, stderr } = await runCli({ TRACEWIRE_URL: 'http://127.0.0.1:9' }, '');
    expect(code).toBe(2);
    expect(stderr).toContain('TRACEWIRE_TOKEN is not set');
    expect(stderr).toContain('npm start');
    expect(stderr).toContain('npm run token -- --user <id>');
  });
});
