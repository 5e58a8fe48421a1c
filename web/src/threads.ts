import type { Thread, TracewireClient } from '@tracewire/client';
import { h } from './dom.js';

/** The thread list: newest first, the open one marked. */
export interface ThreadList {
  /** Loads the user's threads; returns them newest first. */
  load(): Promise<Pick<Thread, 'id' | 'title'>[]>;
  /** Creates a thread and puts it first. */
  create(): Promise<Pick<Thread, 'id' | 'title'>>;
  /** Marks the open thread. */
  select(threadId: string): void;
}

/** Renders the user's threads into `list`; a click opens one. */
export function createThreadList(
  client: TracewireClient,
  list: HTMLUListElement,
  onOpen: (threadId: string) => void,
): ThreadList {
  let selected: string | null = null;

  const item = (thread: Pick<Thread, 'id' | 'title'>) => {
    const button = h('button', { type: 'button', 'data-thread-id': thread.id }, thread.title);
    button.addEventListener('click', () => onOpen(thread.id));
    return h('li', { 'aria-current': thread.id === selected ? 'true' : undefined }, button);
  };

  return {
    async load() {
      const page = await client.trpc.chat.listThreads.query({ limit: 50 });
      list.replaceChildren(...page.items.map(item));
      return page.items;
    },
    async create() {
      const thread = await client.trpc.chat.createThread.mutate({});
      list.prepend(item(thread));
      return thread;
    },
    select(threadId) {
      selected = threadId;
      for (const li of Array.from(list.children)) {
        const id = li.querySelector('button')?.dataset['threadId'];
        if (id === threadId) li.setAttribute('aria-current', 'true');
        else li.removeAttribute('aria-current');
      }
    },
  };
}
