import { createTracewireClient, getErrorInfo, type TracewireClient } from '@tracewire/client';
import { createConversation, type Conversation } from './conversation.js';
import { byId } from './dom.js';
import { showStatus } from './status.js';
import { createThreadList } from './threads.js';
import { askForToken, findToken, forget, tokenSubject } from './token.js';
import { createTranscript } from './transcript.js';

const ui = {
  status: byId<HTMLElement>('status'),
  user: byId<HTMLElement>('user'),
  tokenForm: byId<HTMLFormElement>('token-form'),
  app: byId<HTMLElement>('app'),
  threads: byId<HTMLUListElement>('thread-list'),
  newThread: byId<HTMLButtonElement>('new-thread'),
  error: byId<HTMLElement>('error'),
  transcript: byId<HTMLOListElement>('transcript'),
  composer: byId<HTMLFormElement>('composer'),
  message: byId<HTMLTextAreaElement>('message'),
  send: byId<HTMLButtonElement>('send'),
  cancel: byId<HTMLButtonElement>('cancel'),
};

/** The readable part of an error: for invalid input, which field and why. */
function describe(info: ReturnType<typeof getErrorInfo>): string {
  if (!info.zodError) return info.message;
  const fields = Object.entries(info.zodError.fieldErrors).map(
    ([field, issues]) => `${field}: ${(issues ?? []).join(', ')}`,
  );
  return [...fields, ...info.zodError.formErrors].join('; ') || info.message;
}

/** Shows an error with its code and the request id to quote (when the server answered). */
function showError(error: unknown): void {
  const info = getErrorInfo(error);
  ui.error.dataset['appCode'] = info.appCode;
  ui.error.dataset['requestId'] = info.requestId ?? '';
  ui.error.textContent = `${info.appCode}: ${describe(info)}${info.requestId ? ` (request ${info.requestId})` : ''}`;
  ui.error.hidden = false;
}

const clearError = () => {
  ui.error.hidden = true;
  ui.error.textContent = '';
};

/** True when the server refused the token itself (not the connection for another reason). */
const isRefusedToken = (error: unknown) => getErrorInfo(error).appCode === 'UNAUTHORIZED';

/**
 * Runs the chat with one token until the server refuses it; resolves with why, so the page
 * can ask for another. Uses the SDK exactly as the README shows: same-origin URL, the
 * browser's own WebSocket, `ws+http`.
 */
async function runChat(token: string): Promise<string> {
  let refused!: (why: string) => void;
  const done = new Promise<string>((resolve) => (refused = resolve));
  // Set right below; a state change can only be reported after that.
  const current: { conversation?: Conversation } = {};
  const client: TracewireClient = createTracewireClient({
    url: location.origin,
    token,
    onStateChange: (state) => {
      showStatus(ui.status, state);
      if (state.status === 'connected') current.conversation?.resume().catch(showError);
      if (state.status === 'refused' && state.error && isRefusedToken(state.error))
        refused(state.error.message);
    },
  });
  showStatus(ui.status, client.state);
  const transcript = createTranscript(ui.transcript);
  const convo = createConversation(client, transcript, {
    onError: showError,
    onActiveRun: (runId) => {
      ui.cancel.disabled = runId === null;
    },
  });
  current.conversation = convo;
  const open = async (threadId: string) => {
    clearError();
    threads.select(threadId);
    await convo.open(threadId).catch(showError);
  };
  const threads = createThreadList(client, ui.threads, (id) => void open(id));

  try {
    const existing = await threads.load();
    ui.user.textContent = tokenSubject(token) ?? '';
    ui.app.hidden = false;
    const first = existing[0] ?? (await threads.create());
    await open(first.id);
  } catch (error) {
    await client.close();
    if (isRefusedToken(error)) return getErrorInfo(error).message;
    showError(error);
    ui.app.hidden = false;
    throw error;
  }

  ui.newThread.addEventListener('click', () => {
    threads
      .create()
      .then((thread) => open(thread.id))
      .catch(showError);
  });
  ui.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const content = ui.message.value.trim();
    if (!content) return;
    clearError();
    ui.send.disabled = true;
    convo
      .send(content)
      .then(() => {
        ui.message.value = '';
      })
      .catch(showError)
      .finally(() => {
        ui.send.disabled = false;
        ui.message.focus();
      });
  });
  ui.message.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  ui.cancel.addEventListener('click', () => {
    convo.cancel().catch(showError);
  });

  const why = await done;
  ui.app.hidden = true;
  await client.close();
  return why;
}

async function main(): Promise<void> {
  const found = await findToken();
  let token = found?.token ?? (await askForToken(ui.tokenForm));
  for (;;) {
    const why = await runChat(token);
    forget();
    token = await askForToken(ui.tokenForm, `The server refused that token: ${why}`);
  }
}

main().catch(showError);
