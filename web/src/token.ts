/** Where the page keeps its token for this tab (never in a cookie: nothing rides on it). */
const STORAGE_KEY = 'tracewire.token';

/** Where the server hands a demo token to a page on loopback in development. */
const DEV_TOKEN_PATH = '/web/dev-token';

/** A token and where it came from. */
export interface FoundToken {
  token: string;
  source: 'link' | 'tab' | 'dev-server';
}

/**
 * The token to use without asking: one in the link (`#token=…`, taken out of the address bar),
 * the one this tab used before, or, from a development server on loopback, a demo token
 * (production servers mint nothing: then null, and the page asks).
 */
export async function findToken(): Promise<FoundToken | null> {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromLink) {
    history.replaceState(null, '', location.pathname + location.search);
    remember(fromLink);
    return { token: fromLink, source: 'link' };
  }
  const saved = sessionStorage.getItem(STORAGE_KEY);
  if (saved) return { token: saved, source: 'tab' };
  try {
    const res = await fetch(DEV_TOKEN_PATH, { headers: { accept: 'application/json' } });
    if (!res.ok) return null;
    const body = (await res.json()) as { token?: unknown };
    if (typeof body.token !== 'string') return null;
    remember(body.token);
    return { token: body.token, source: 'dev-server' };
  } catch {
    return null;
  }
}

/** Keeps the token for this tab. */
export const remember = (token: string) => sessionStorage.setItem(STORAGE_KEY, token);

/** Drops a token the server refused. */
export const forget = () => sessionStorage.removeItem(STORAGE_KEY);

/** The user id (`sub`) a JWT names, for display only (the server verifies; this does not). */
export function tokenSubject(token: string): string | null {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : null;
  } catch {
    return null;
  }
}

/** Shows the token form and resolves with what the user enters. */
export function askForToken(form: HTMLFormElement, problem?: string): Promise<string> {
  const input = form.querySelector('input')!;
  const error = form.querySelector<HTMLElement>('.error')!;
  error.hidden = problem === undefined;
  error.textContent = problem ?? '';
  form.hidden = false;
  input.focus();
  return new Promise((resolve) => {
    const onSubmit = (e: SubmitEvent) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      form.removeEventListener('submit', onSubmit);
      form.hidden = true;
      input.value = '';
      remember(token);
      resolve(token);
    };
    form.addEventListener('submit', onSubmit);
  });
}
